/* passgate Argon2id solver (a module Web Worker, loaded only for sites that use Argon2id).
 * Part i is solved by a 32-bit nonce n with Argon2id(password = ascii(salt + hex4(i) +
 * hex8(n)), salt = the 16 bytes of the hex salt, t, m KiB, p lanes, version 0x13, 32 bytes)
 * starting with a big-endian word below `threshold`. The hashing is @phi-ag/argon2's
 * WebAssembly SIMD build, served by passgate from npm.
 * In: {salt, part, threshold, m, t, p}. Out: {type: "progress", hashes}..., then
 * {type: "found", part, nonce}; or {type: "fail"} if no nonce solves it or the module
 * could not be fetched, {type: "nowasm"} if this browser cannot run it. */
import Argon2 from "./argon2.mjs";

var argon2 = Promise.resolve()
  .then(function () {
    var url = new URL("./argon2.wasm", import.meta.url);
    return WebAssembly.instantiateStreaming(fetch(url));
  })
  .then(function (r) {
    return new Argon2(r.instance);
  });
argon2.catch(function () {}); // answered to the first job

var D = "0123456789abcdef";
function hex(v, digits) {
  for (var s = ""; digits--; v >>>= 4) s = D[v & 15] + s;
  return s;
}

function solve(lib, job) {
  var salt = new Uint8Array(16);
  for (var i = 0; i < 16; i++)
    salt[i] = parseInt(job.salt.substr(i * 2, 2), 16);
  var options = {
    salt: salt,
    hashLength: 32,
    timeCost: job.t,
    memoryCost: job.m,
    parallelism: job.p,
    type: 2, // Argon2id
    version: 0x13,
  };
  var prefix = job.salt + hex(job.part, 4);
  var done = 0;
  for (var n = 0; n < 4294967296; n++) {
    var h = lib.hash(prefix + hex(n, 8), options).hash;
    if (
      ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0 <
      job.threshold
    ) {
      self.postMessage({ type: "progress", hashes: n + 1 - done });
      return n;
    }
    if ((n & 15) === 15) {
      self.postMessage({ type: "progress", hashes: n + 1 - done });
      done = n + 1;
    }
  }
  return -1;
}

self.onmessage = function (event) {
  var job = event.data;
  argon2.then(
    function (lib) {
      var nonce = solve(lib, job);
      self.postMessage(
        nonce < 0
          ? { type: "fail", part: job.part }
          : { type: "found", part: job.part, nonce: nonce },
      );
    },
    function (e) {
      // a network error (TypeError) is worth a retry; no WebAssembly (SIMD) is not
      self.postMessage({ type: e instanceof TypeError ? "fail" : "nowasm" });
    },
  );
};
