//go:build amd64 && (linux || windows)

// SQLCipher crypto provider with AES in hardware (#17). See
// cryptoprovider.go.

#include <stdint.h>
#include <string.h>

#include "cryptoprovider.h"

// Resolved at link time against the SQLCipher amalgamation that
// go-sqlcipher compiles (its functions are not static). Weak, because
// cgo links this package's C on its own first, without them.
extern int sqlcipher_register_provider(sqlcipher_provider *) __attribute__((weak));
extern sqlcipher_provider *sqlcipher_get_provider(void) __attribute__((weak));
extern void *sqlcipher_malloc(unsigned long long) __attribute__((weak));
extern int sqlcipher_ltc_setup(sqlcipher_provider *) __attribute__((weak));
extern int sqlite3_initialize(void) __attribute__((weak));

#define SQLITE_OK 0
#define SQLITE_ERROR 1

// The bundled provider's functions, kept for what this one does not do
// itself and for the comparison tests.
static sqlcipher_provider ltc;
static int ltc_ready;

// cv_wipe clears memory that held key material, where the compiler cannot
// drop it as a dead store.
static void cv_wipe(void *p, size_t n) {
  volatile unsigned char *v = (volatile unsigned char *)p;
  while (n--) *v++ = 0;
}

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>

#define CV_AES __attribute__((target("aes,sse4.1")))

CV_AES static inline __m128i assist1(__m128i t1, __m128i t2) {
  __m128i t4;
  t2 = _mm_shuffle_epi32(t2, 0xff);
  t4 = _mm_slli_si128(t1, 4);
  t1 = _mm_xor_si128(t1, t4);
  t4 = _mm_slli_si128(t4, 4);
  t1 = _mm_xor_si128(t1, t4);
  t4 = _mm_slli_si128(t4, 4);
  t1 = _mm_xor_si128(t1, t4);
  return _mm_xor_si128(t1, t2);
}

CV_AES static inline __m128i assist2(__m128i t1, __m128i t3) {
  __m128i t2, t4;
  t4 = _mm_aeskeygenassist_si128(t1, 0);
  t2 = _mm_shuffle_epi32(t4, 0xaa);
  t4 = _mm_slli_si128(t3, 4);
  t3 = _mm_xor_si128(t3, t4);
  t4 = _mm_slli_si128(t4, 4);
  t3 = _mm_xor_si128(t3, t4);
  t4 = _mm_slli_si128(t4, 4);
  t3 = _mm_xor_si128(t3, t4);
  return _mm_xor_si128(t3, t2);
}

// AES-256 key schedule (FIPS 197), after Intel's AES-NI white paper.
CV_AES static void expand256(const unsigned char *key, __m128i rk[15]) {
  __m128i t1 = _mm_loadu_si128((const __m128i *)key);
  __m128i t3 = _mm_loadu_si128((const __m128i *)(key + 16));
  __m128i t2;
  rk[0] = t1;
  rk[1] = t3;
#define CV_ROUND(i, rcon)                        \
  t2 = _mm_aeskeygenassist_si128(t3, rcon);     \
  t1 = assist1(t1, t2);                          \
  rk[i] = t1;                                    \
  if (i < 14) {                                  \
    t3 = assist2(t1, t3);                        \
    rk[i + 1] = t3;                              \
  }
  CV_ROUND(2, 0x01)
  CV_ROUND(4, 0x02)
  CV_ROUND(6, 0x04)
  CV_ROUND(8, 0x08)
  CV_ROUND(10, 0x10)
  CV_ROUND(12, 0x20)
  CV_ROUND(14, 0x40)
#undef CV_ROUND
}

CV_AES static void cbc_encrypt(const __m128i rk[15], const unsigned char *iv, const unsigned char *in, unsigned char *out, int blocks) {
  __m128i x = _mm_loadu_si128((const __m128i *)iv);
  for (int b = 0; b < blocks; b++) {
    x = _mm_xor_si128(x, _mm_loadu_si128((const __m128i *)(in + 16 * b)));
    x = _mm_xor_si128(x, rk[0]);
    for (int r = 1; r < 14; r++) x = _mm_aesenc_si128(x, rk[r]);
    x = _mm_aesenclast_si128(x, rk[14]);
    _mm_storeu_si128((__m128i *)(out + 16 * b), x);
  }
}

// CBC decryption is parallel: four blocks at a time keep the AES unit
// busy. Each group is read whole before it is written, so in may be out.
CV_AES static void cbc_decrypt(const __m128i rk[15], const unsigned char *iv, const unsigned char *in, unsigned char *out, int blocks) {
  __m128i dk[15];
  dk[0] = rk[14];
  for (int r = 1; r < 14; r++) dk[r] = _mm_aesimc_si128(rk[14 - r]);
  dk[14] = rk[0];
  __m128i prev = _mm_loadu_si128((const __m128i *)iv);
  int b = 0;
  for (; b + 4 <= blocks; b += 4) {
    __m128i c0 = _mm_loadu_si128((const __m128i *)(in + 16 * b));
    __m128i c1 = _mm_loadu_si128((const __m128i *)(in + 16 * (b + 1)));
    __m128i c2 = _mm_loadu_si128((const __m128i *)(in + 16 * (b + 2)));
    __m128i c3 = _mm_loadu_si128((const __m128i *)(in + 16 * (b + 3)));
    __m128i x0 = _mm_xor_si128(c0, dk[0]), x1 = _mm_xor_si128(c1, dk[0]);
    __m128i x2 = _mm_xor_si128(c2, dk[0]), x3 = _mm_xor_si128(c3, dk[0]);
    for (int r = 1; r < 14; r++) {
      x0 = _mm_aesdec_si128(x0, dk[r]);
      x1 = _mm_aesdec_si128(x1, dk[r]);
      x2 = _mm_aesdec_si128(x2, dk[r]);
      x3 = _mm_aesdec_si128(x3, dk[r]);
    }
    x0 = _mm_xor_si128(_mm_aesdeclast_si128(x0, dk[14]), prev);
    x1 = _mm_xor_si128(_mm_aesdeclast_si128(x1, dk[14]), c0);
    x2 = _mm_xor_si128(_mm_aesdeclast_si128(x2, dk[14]), c1);
    x3 = _mm_xor_si128(_mm_aesdeclast_si128(x3, dk[14]), c2);
    _mm_storeu_si128((__m128i *)(out + 16 * b), x0);
    _mm_storeu_si128((__m128i *)(out + 16 * (b + 1)), x1);
    _mm_storeu_si128((__m128i *)(out + 16 * (b + 2)), x2);
    _mm_storeu_si128((__m128i *)(out + 16 * (b + 3)), x3);
    prev = c3;
  }
  for (; b < blocks; b++) {
    __m128i c = _mm_loadu_si128((const __m128i *)(in + 16 * b));
    __m128i x = _mm_xor_si128(c, dk[0]);
    for (int r = 1; r < 14; r++) x = _mm_aesdec_si128(x, dk[r]);
    x = _mm_xor_si128(_mm_aesdeclast_si128(x, dk[14]), prev);
    _mm_storeu_si128((__m128i *)(out + 16 * b), x);
    prev = c;
  }
  cv_wipe(dk, sizeof dk);
}

static int have_aes(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
}

// cv_cipher is the provider's cipher: AES-256-CBC with AES-NI, the same
// bytes as libtomcrypt's (compared in the tests). mode 1 encrypts.
CV_AES static int cv_cipher(void *ctx, int mode, unsigned char *key, int key_sz, unsigned char *iv, unsigned char *in, int in_sz, unsigned char *out) {
  if (key_sz != 32 || in_sz < 0 || in_sz % 16 != 0) {
    return ltc.cipher(ctx, mode, key, key_sz, iv, in, in_sz, out);
  }
  __m128i rk[15];
  expand256(key, rk);
  if (mode == 1) {
    cbc_encrypt(rk, iv, in, out, in_sz / 16);
  } else {
    cbc_decrypt(rk, iv, in, out, in_sz / 16);
  }
  cv_wipe(rk, sizeof rk);
  return SQLITE_OK;
}
#else
static int have_aes(void) { return 0; }
static int cv_cipher(void *ctx, int mode, unsigned char *key, int key_sz, unsigned char *iv, unsigned char *in, int in_sz, unsigned char *out) {
  return ltc.cipher(ctx, mode, key, key_sz, iv, in, in_sz, out);
}
#endif

static const char *cv_name(void *ctx) { return CV_PROVIDER_NAME; }

// cv_ltc_setup fills ltc with the bundled provider's functions, once.
static int cv_ltc_setup(void) {
  if (!ltc_ready) {
    if (sqlcipher_ltc_setup == 0) return 0;
    sqlcipher_ltc_setup(&ltc);
    ltc_ready = 1;
  }
  return 1;
}

int cv_hardware_aes(void) { return have_aes(); }

int cv_register_provider(void) {
  if (!have_aes() || !cv_ltc_setup() || sqlcipher_malloc == 0 || sqlcipher_register_provider == 0 || sqlite3_initialize == 0) return 0;
  // sqlcipher_malloc is SQLite's allocator, which needs SQLite set up.
  if (sqlite3_initialize() != SQLITE_OK) return 0;
  sqlcipher_provider *p = sqlcipher_malloc(sizeof(sqlcipher_provider));
  if (p == 0) return 0;
  *p = ltc; // random, KDF, HMAC and sizes stay the bundled provider's
  p->cipher = cv_cipher;
  p->get_provider_name = cv_name;
  return sqlcipher_register_provider(p) == SQLITE_OK;
}

// cv_register_bundled registers a copy of the bundled provider (tests:
// databases written and read by it).
int cv_register_bundled(void) {
  if (!cv_ltc_setup() || sqlcipher_malloc == 0 || sqlcipher_register_provider == 0 || sqlite3_initialize == 0) return 0;
  if (sqlite3_initialize() != SQLITE_OK) return 0;
  sqlcipher_provider *p = sqlcipher_malloc(sizeof(sqlcipher_provider));
  if (p == 0) return 0;
  *p = ltc;
  return sqlcipher_register_provider(p) == SQLITE_OK;
}

const char *cv_current_provider(void) {
  if (sqlcipher_get_provider == 0) return "";
  sqlcipher_provider *p = sqlcipher_get_provider();
  if (p == 0 || p->get_provider_name == 0) return "";
  return p->get_provider_name(0);
}

int cv_cipher_ours(int mode, unsigned char *key, unsigned char *iv, unsigned char *in, int n, unsigned char *out) {
  if (!cv_ltc_setup()) return SQLITE_ERROR;
  return cv_cipher(0, mode, key, 32, iv, in, n, out);
}

int cv_cipher_bundled(int mode, unsigned char *key, unsigned char *iv, unsigned char *in, int n, unsigned char *out) {
  if (!cv_ltc_setup()) return SQLITE_ERROR;
  // libtomcrypt's cipher needs its own set-up (registered ciphers).
  ltc.ctx_init(0);
  int rc = ltc.cipher(0, mode, key, 32, iv, in, n, out);
  ltc.ctx_free(0);
  return rc;
}

// cv_hmac_bundled is the bundled provider's HMAC-SHA512 (SQLCipher's
// default), for the tests and the benchmark.
int cv_hmac_bundled(unsigned char *key, int key_sz, unsigned char *in, int in_sz, unsigned char *in2, int in2_sz, unsigned char *out) {
  if (!cv_ltc_setup()) return SQLITE_ERROR;
  ltc.ctx_init(0);
  int rc = ltc.hmac(0, 2 /* SQLCIPHER_HMAC_SHA512 */, key, key_sz, in, in_sz, in2, in2_sz, out);
  ltc.ctx_free(0);
  return rc;
}
