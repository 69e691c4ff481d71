// SQLCipher 4.4's provider interface, as its amalgamation (sqlite3.c in
// go-sqlcipher v4.4.2) declares it. Its layout must match theirs field
// for field.
#ifndef CV_CRYPTOPROVIDER_H
#define CV_CRYPTOPROVIDER_H

#define CV_PROVIDER_NAME "clinicvault-aesni"

typedef struct {
  int (*activate)(void *ctx);
  int (*deactivate)(void *ctx);
  const char *(*get_provider_name)(void *ctx);
  int (*add_random)(void *ctx, void *buffer, int length);
  int (*random)(void *ctx, void *buffer, int length);
  int (*hmac)(void *ctx, int algorithm, unsigned char *hmac_key, int key_sz, unsigned char *in, int in_sz, unsigned char *in2, int in2_sz, unsigned char *out);
  int (*kdf)(void *ctx, int algorithm, const unsigned char *pass, int pass_sz, unsigned char *salt, int salt_sz, int workfactor, int key_sz, unsigned char *key);
  int (*cipher)(void *ctx, int mode, unsigned char *key, int key_sz, unsigned char *iv, unsigned char *in, int in_sz, unsigned char *out);
  const char *(*get_cipher)(void *ctx);
  int (*get_key_sz)(void *ctx);
  int (*get_iv_sz)(void *ctx);
  int (*get_block_sz)(void *ctx);
  int (*get_hmac_sz)(void *ctx, int algorithm);
  int (*ctx_init)(void **ctx);
  int (*ctx_free)(void **ctx);
  int (*fips_status)(void *ctx);
  const char *(*get_provider_version)(void *ctx);
} sqlcipher_provider;

int cv_hardware_aes(void);
int cv_register_provider(void);
int cv_register_bundled(void);
const char *cv_current_provider(void);
int cv_cipher_ours(int mode, unsigned char *key, unsigned char *iv, unsigned char *in, int n, unsigned char *out);
int cv_hmac_bundled(unsigned char *key, int key_sz, unsigned char *in, int in_sz, unsigned char *in2, int in2_sz, unsigned char *out);
int cv_cipher_bundled(int mode, unsigned char *key, unsigned char *iv, unsigned char *in, int n, unsigned char *out);

#endif
