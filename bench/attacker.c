/* The abuse bench's attacker: passgate's puzzle, and nothing else, as fast as one core goes.
 *
 * Puzzle i of a challenge is solved by a 32-bit nonce n such that
 * SHA-256(ascii(salt + hex4(i) + hex8(n)))[0:4], big-endian, is below the threshold. The
 * message is 44 bytes, one SHA-256 block: the salt fills words 0-7 (the same for every
 * attempt, so rounds 0-7 are computed once per challenge: the midstate), hex4(i) word 8,
 * hex8(n) words 9-10, and the padding words 11-15 are constant. Only the first word of the
 * digest is computed to the end. With the x86 SHA extensions (cc -msha, chosen by the
 * bench when /proc/cpuinfo lists sha_ni) the rounds run on them; else in portable C.
 *
 * Built by bench/abuse_attack.py as `cc -O2 [-msse4.1 -msha] -o attacker attacker.c`.
 * Reads commands on stdin, one a line, and answers one line each (flushed):
 *   solve SALT PARTS THRESHOLD   ->  ok N0 N1 ... HASHES     (or "fail PART")
 *   rate SECONDS                 ->  rate HASHES SECONDS      (threshold 0: never found)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SHA__
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};
static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static uint32_t HEX4[65536]; /* hex4(v) as the big-endian word SHA-256 reads */

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define S0(x) (ROR(x, 2) ^ ROR(x, 13) ^ ROR(x, 22))
#define S1(x) (ROR(x, 6) ^ ROR(x, 11) ^ ROR(x, 25))
#define G0(x) (ROR(x, 7) ^ ROR(x, 18) ^ ((x) >> 3))
#define G1(x) (ROR(x, 17) ^ ROR(x, 19) ^ ((x) >> 10))

typedef struct {
    uint32_t w[16];  /* the block's words; 8, 9, 10 change per part and nonce */
    uint32_t mid[8]; /* a..h after rounds 0-7 */
} Job;

static void init_hex(void) {
    const char *d = "0123456789abcdef";
    for (uint32_t v = 0; v < 65536; v++)
        HEX4[v] = ((uint32_t)d[v >> 12] << 24) | ((uint32_t)d[(v >> 8) & 15] << 16) |
                  ((uint32_t)d[(v >> 4) & 15] << 8) | (uint32_t)d[v & 15];
}

static void prepare(Job *j, const char salt[32]) {
    for (int i = 0; i < 8; i++)
        j->w[i] = ((uint32_t)(uint8_t)salt[4 * i] << 24) | ((uint32_t)(uint8_t)salt[4 * i + 1] << 16) |
                  ((uint32_t)(uint8_t)salt[4 * i + 2] << 8) | (uint32_t)(uint8_t)salt[4 * i + 3];
    j->w[11] = 0x80000000u;
    j->w[12] = j->w[13] = j->w[14] = 0;
    j->w[15] = 44 * 8;
    uint32_t a = IV[0], b = IV[1], c = IV[2], d = IV[3], e = IV[4], f = IV[5], g = IV[6], h = IV[7];
    for (int i = 0; i < 8; i++) {
        uint32_t t1 = h + S1(e) + ((e & f) ^ (~e & g)) + K[i] + j->w[i];
        uint32_t t2 = S0(a) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    uint32_t m[8] = {a, b, c, d, e, f, g, h};
    memcpy(j->mid, m, sizeof m);
}

#ifdef __SHA__
/* Rounds 8-63 on the SHA extensions. Lane i of message vector q holds word 4q+i. */
typedef struct {
    __m128i abef, cdgh; /* the midstate in the instructions' layout */
    __m128i m0, m1;     /* words 0-3 after msg1 with 4-7, and words 4-7 */
} Fast;

static void fast_prepare(Fast *f, const Job *j) {
    const uint32_t *s = j->mid; /* a b c d e f g h */
    f->abef = _mm_set_epi32((int)s[0], (int)s[1], (int)s[4], (int)s[5]);
    f->cdgh = _mm_set_epi32((int)s[2], (int)s[3], (int)s[6], (int)s[7]);
    __m128i w0 = _mm_setr_epi32((int)j->w[0], (int)j->w[1], (int)j->w[2], (int)j->w[3]);
    f->m1 = _mm_setr_epi32((int)j->w[4], (int)j->w[5], (int)j->w[6], (int)j->w[7]);
    f->m0 = _mm_sha256msg1_epu32(w0, f->m1);
}

static inline uint32_t fast_first_word(const Fast *f, uint32_t w8, uint32_t w9, uint32_t w10) {
    __m128i s0 = f->abef, s1 = f->cdgh, msg;
    __m128i M[4];
    M[0] = f->m0;
    M[1] = f->m1;
    M[2] = _mm_setr_epi32((int)w8, (int)w9, (int)w10, (int)0x80000000u);
    M[3] = _mm_setr_epi32(0, 0, 0, 44 * 8);
#pragma GCC unroll 16
    for (int g = 2; g < 16; g++) { /* rounds 4g..4g+3; words 4(g+1).. are due next */
        msg = _mm_add_epi32(M[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
        s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
        if (g >= 3 && g <= 14)
            M[(g + 1) & 3] = _mm_sha256msg2_epu32(
                _mm_add_epi32(M[(g + 1) & 3], _mm_alignr_epi8(M[g & 3], M[(g - 1) & 3], 4)),
                M[g & 3]);
        msg = _mm_shuffle_epi32(msg, 0x0E);
        s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
        if (g <= 12) M[(g - 1) & 3] = _mm_sha256msg1_epu32(M[(g - 1) & 3], M[g & 3]);
    }
    return (uint32_t)_mm_extract_epi32(s0, 3) + IV[0]; /* lane 3 of ABEF is A */
}
#endif

/* Rounds 8-63 in portable C, for machines without the SHA extensions. */
static inline uint32_t slow_first_word(const Job *j, uint32_t w8, uint32_t w9, uint32_t w10) {
    uint32_t W[64];
    memcpy(W, j->w, sizeof(uint32_t) * 16);
    W[8] = w8;
    W[9] = w9;
    W[10] = w10;
    for (int i = 16; i < 64; i++) W[i] = G1(W[i - 2]) + W[i - 7] + G0(W[i - 15]) + W[i - 16];
    uint32_t a = j->mid[0], b = j->mid[1], c = j->mid[2], d = j->mid[3];
    uint32_t e = j->mid[4], f = j->mid[5], g = j->mid[6], h = j->mid[7];
    for (int i = 8; i < 64; i++) {
        uint32_t t1 = h + S1(e) + ((e & f) ^ (~e & g)) + K[i] + W[i];
        uint32_t t2 = S0(a) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    return a + IV[0];
}

/* The first nonce of part `part` whose hash is below `threshold`; its attempts are added to
 * *hashes. Returns -1 when none of the 2^32 is (or when `limit` attempts are spent). */
static int64_t search(const Job *j, uint32_t part, uint32_t threshold, uint64_t limit,
                      uint64_t *hashes) {
    uint32_t w8 = HEX4[part & 0xffff];
    uint64_t tried = 0;
#ifdef __SHA__
    Fast f;
    fast_prepare(&f, j);
#endif
    for (uint32_t hi = 0; hi < 65536; hi++) {
        uint32_t w9 = HEX4[hi];
        for (uint32_t lo = 0; lo < 65536; lo++) {
#ifdef __SHA__
            uint32_t first = fast_first_word(&f, w8, w9, HEX4[lo]);
#else
            uint32_t first = slow_first_word(j, w8, w9, HEX4[lo]);
#endif
            if (first < threshold) {
                *hashes += tried + lo + 1;
                return ((int64_t)hi << 16) | lo;
            }
        }
        tried += 65536;
        if (tried >= limit) break;
    }
    *hashes += tried;
    return -1;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    char line[512];
    init_hex();
    while (fgets(line, sizeof line, stdin)) {
        char salt[64];
        unsigned parts;
        unsigned long threshold;
        double seconds;
        if (sscanf(line, "solve %63s %u %lu", salt, &parts, &threshold) == 3 && strlen(salt) == 32) {
            Job j;
            prepare(&j, salt);
            uint64_t hashes = 0;
            int64_t nonce[64];
            int failed = -1;
            for (unsigned p = 0; p < parts && p < 64; p++) {
                nonce[p] = search(&j, p, (uint32_t)threshold, UINT64_MAX, &hashes);
                if (nonce[p] < 0) { failed = (int)p; break; }
            }
            if (failed >= 0) {
                printf("fail %d\n", failed);
            } else {
                printf("ok");
                for (unsigned p = 0; p < parts && p < 64; p++) printf(" %lld", (long long)nonce[p]);
                printf(" %llu\n", (unsigned long long)hashes);
            }
        } else if (sscanf(line, "rate %lf", &seconds) == 1) {
            Job j;
            prepare(&j, "0123456789abcdef0123456789abcdef");
            uint64_t hashes = 0;
            double t0 = now_s(), t;
            uint32_t part = 0;
            do { /* 2^20 attempts a round, threshold 0: nothing is ever found */
                search(&j, part++, 0, 1u << 20, &hashes);
                t = now_s();
            } while (t - t0 < seconds);
            printf("rate %llu %.6f\n", (unsigned long long)hashes, t - t0);
        } else {
            printf("error\n");
        }
        fflush(stdout);
    }
    return 0;
}
