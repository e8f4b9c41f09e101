// The token and cipher schemes of MicroBT's Whatsminer APIs, on OpenSSL:
// md5-crypt, SHA-256, AES-256-ECB with zero padding and base64. The driver
// (src/whatsminer.cpp) signs and encrypts with them; the fake farm checks
// and answers with the same, so both sides follow one reading of the docs.
//
// API v2 ("Whatsminer API V2.0.5", MicroBT: "key = openssl passwd -1 -salt
// $salt admin_password", "aeskey = sha256($key)", ciphertext
// base64(aes256-ecb(json))); the sign and the zero padding as
// UpstreamData/pyasic e2b9d357 pyasic/rpc/btminer.py (get_token,
// create_privileged_cmd) and 256foundation/asic-rs fdcd1018
// asic-rs-firmwares/whatsminer/src/backends/v2/rpc.rs read them.
// API v3 (token = the first 8 characters of base64(sha256(cmd + password +
// salt + ts)); set.miner.pools' param encrypted with the raw digest as key):
// asic-rs's backends/v3/rpc.rs and pyasic's BTMinerV3RPCAPI.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asicmon::driver::whatsminer {

// "$1$<salt>$<22 characters>", as crypt(3) and `openssl passwd -1`; the
// salt is cut at 8 characters or its first '$'.
std::string Md5Crypt(std::string_view password, std::string_view salt);
// The part after the salt's '$': what the v2 scheme uses as key and sign.
std::string Md5CryptHash(std::string_view password, std::string_view salt);

std::string Sha256(std::string_view data);  // 32 raw bytes
std::string Base64Encode(std::string_view data);
// Standard alphabet, '=' padded; whitespace skipped. nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view text);

// AES-256-ECB of `plain` padded with NULs to 16 bytes; `key` 32 bytes.
std::string AesEcbEncrypt(std::string_view key, std::string_view plain);
// The inverse, trailing NULs removed; nullopt when `cipher` is not whole blocks.
std::optional<std::string> AesEcbDecrypt(std::string_view key, std::string_view cipher);

// API v2: what get_token's time, salt and newsalt give with the admin password.
struct V2Token {
  std::string key;   // md5-crypt hash of the password with salt
  std::string sign;  // md5-crypt hash of key + time with newsalt: the "token" field
  std::string aes_key() const { return Sha256(key); }
};
V2Token MakeV2Token(std::string_view password, std::string_view salt, std::string_view newsalt,
                    std::string_view time);
// base64(aes256(json)) of a v2 request or reply, and back.
std::string V2Seal(const V2Token& token, std::string_view json);
std::optional<std::string> V2Open(const V2Token& token, std::string_view base64);

// API v3: the digest of cmd + password + salt + ts (the pools' AES key) and
// the token, its base64's first 8 characters.
std::string V3Digest(std::string_view cmd, std::string_view password, std::string_view salt,
                     int64_t ts);
std::string V3Token(std::string_view digest);

}  // namespace asicmon::driver::whatsminer
