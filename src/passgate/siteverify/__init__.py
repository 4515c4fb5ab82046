"""The three siteverify interfaces, thin shapes over one verification core (passgate.verify):
hcaptcha (`POST /siteverify`), turnstile (`POST /turnstile/v0/siteverify`) and recaptcha
(`POST /recaptcha/api/siteverify`). Each reads its own parameters, answers its own test
keys, and renders the core's verdict with its own fields and error codes."""
