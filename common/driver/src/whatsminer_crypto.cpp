// The Whatsminer token and cipher schemes (whatsminer_crypto.h) on OpenSSL.
#include "asicmon/whatsminer_crypto.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>

namespace asicmon::driver::whatsminer {
namespace {

using Digest = std::array<unsigned char, 16>;

// An MD5 over the pieces fed to it; OpenSSL's EVP interface, as the rest of
// asicmon (MD5() itself is deprecated in OpenSSL 3).
class Md5 {
 public:
  Md5() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_md5(), nullptr);
  }
  void Add(std::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
  void Add(const Digest& d, size_t n = 16) { EVP_DigestUpdate(ctx_.get(), d.data(), n); }
  Digest Finish() {
    Digest d{};
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), d.data(), &length);
    return d;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

constexpr std::string_view kCryptAlphabet =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void AppendCrypt64(std::string& out, uint32_t value, int chars) {
  for (int i = 0; i < chars; ++i) {
    out += kCryptAlphabet[value & 0x3f];
    value >>= 6;
  }
}

// AES-256-ECB without OpenSSL's padding: the callers pad with NULs.
std::optional<std::string> AesEcb(std::string_view key, std::string_view data, bool encrypt) {
  if (key.size() != 32 || data.size() % 16 != 0) return std::nullopt;
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  if (!ctx ||
      EVP_CipherInit_ex(ctx.get(), EVP_aes_256_ecb(), nullptr, k, nullptr, encrypt ? 1 : 0) != 1) {
    return std::nullopt;
  }
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  std::string out(data.size() + 16, '\0');
  int written = 0;
  int tail = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (!data.empty() &&
      EVP_CipherUpdate(ctx.get(), o, &written, reinterpret_cast<const unsigned char*>(data.data()),
                       static_cast<int>(data.size())) != 1) {
    return std::nullopt;
  }
  if (EVP_CipherFinal_ex(ctx.get(), o + written, &tail) != 1) return std::nullopt;
  out.resize(static_cast<size_t>(written + tail));
  return out;
}

}  // namespace

// Poul-Henning Kamp's md5-crypt, step by step as FreeBSD's crypt-md5.c.
std::string Md5Crypt(std::string_view password, std::string_view salt) {
  constexpr std::string_view kMagic = "$1$";
  if (salt.starts_with(kMagic)) salt.remove_prefix(kMagic.size());
  salt = salt.substr(0, std::min(salt.find('$'), size_t{8}));

  Md5 alternate;
  alternate.Add(password);
  alternate.Add(salt);
  alternate.Add(password);
  const Digest alt = alternate.Finish();

  Md5 main;
  main.Add(password);
  main.Add(kMagic);
  main.Add(salt);
  for (size_t left = password.size(); left > 0; left -= std::min<size_t>(left, 16)) {
    main.Add(alt, std::min<size_t>(left, 16));
  }
  // One byte per bit of the length: NUL for a set bit, else the first
  // character (NUL too for an empty password, as C's pw[0]).
  const char first = password.empty() ? '\0' : password[0];
  for (size_t bits = password.size(); bits != 0; bits >>= 1) {
    main.Add(std::string_view((bits & 1) ? "\0" : &first, 1));
  }
  Digest final = main.Finish();

  for (int i = 0; i < 1000; ++i) {
    Md5 round;
    if (i & 1) {
      round.Add(password);
    } else {
      round.Add(final);
    }
    if (i % 3 != 0) round.Add(salt);
    if (i % 7 != 0) round.Add(password);
    if (i & 1) {
      round.Add(final);
    } else {
      round.Add(password);
    }
    final = round.Finish();
  }

  std::string out;
  out.reserve(3 + salt.size() + 1 + 22);
  out += kMagic;
  out += salt;
  out += '$';
  auto triple = [&](int a, int b, int c) {
    AppendCrypt64(out, (uint32_t{final[a]} << 16) | (uint32_t{final[b]} << 8) | final[c], 4);
  };
  triple(0, 6, 12);
  triple(1, 7, 13);
  triple(2, 8, 14);
  triple(3, 9, 15);
  triple(4, 10, 5);
  AppendCrypt64(out, final[11], 2);
  return out;
}

std::string Md5CryptHash(std::string_view password, std::string_view salt) {
  const std::string full = Md5Crypt(password, salt);
  return full.substr(full.rfind('$') + 1);
}

std::string Sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  for (size_t i = 0; i < data.size(); i += 3) {
    const size_t n = std::min<size_t>(3, data.size() - i);
    uint32_t v = 0;
    for (size_t j = 0; j < 3; ++j) {
      v = (v << 8) | (j < n ? static_cast<unsigned char>(data[i + j]) : 0u);
    }
    for (size_t j = 0; j < 4; ++j) {
      out += j <= n ? kBase64Alphabet[(v >> (18 - 6 * j)) & 0x3f] : '=';
    }
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out;
  uint32_t v = 0;
  int bits = 0;
  bool ended = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ended = true;
      continue;
    }
    const size_t digit = kBase64Alphabet.find(c);
    if (ended || digit == std::string_view::npos) return std::nullopt;
    v = ((v << 6) | static_cast<uint32_t>(digit)) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone sixth of a byte: cut short
  return out;
}

std::string AesEcbEncrypt(std::string_view key, std::string_view plain) {
  std::string padded(plain);
  padded.resize((plain.size() + 15) / 16 * 16, '\0');
  return AesEcb(key, padded, true).value_or(std::string());
}

std::optional<std::string> AesEcbDecrypt(std::string_view key, std::string_view cipher) {
  std::optional<std::string> plain = AesEcb(key, cipher, false);
  if (!plain) return std::nullopt;
  while (!plain->empty() && plain->back() == '\0') plain->pop_back();
  return plain;
}

V2Token MakeV2Token(std::string_view password, std::string_view salt, std::string_view newsalt,
                    std::string_view time) {
  V2Token token;
  token.key = Md5CryptHash(password, salt);
  token.sign = Md5CryptHash(token.key + std::string(time), newsalt);
  return token;
}

std::string V2Seal(const V2Token& token, std::string_view json) {
  return Base64Encode(AesEcbEncrypt(token.aes_key(), json));
}

std::optional<std::string> V2Open(const V2Token& token, std::string_view base64) {
  const std::optional<std::string> cipher = Base64Decode(base64);
  if (!cipher) return std::nullopt;
  return AesEcbDecrypt(token.aes_key(), *cipher);
}

std::string V3Digest(std::string_view cmd, std::string_view password, std::string_view salt,
                     int64_t ts) {
  std::string text;
  text.reserve(cmd.size() + password.size() + salt.size() + 20);
  text.append(cmd).append(password).append(salt).append(std::to_string(ts));
  return Sha256(text);
}

std::string V3Token(std::string_view digest) { return Base64Encode(digest).substr(0, 8); }

}  // namespace asicmon::driver::whatsminer
