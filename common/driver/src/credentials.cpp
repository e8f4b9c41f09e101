#include "asicmon/credentials.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace asicmon::driver {
namespace {

// Miner passwords are short; a bigger file is not a credentials file.
constexpr size_t kMaxFileBytes = 1 << 20;

Status RowError(size_t index, std::string_view why) {
  return Status::InvalidArgument(fmt::format("credentials row {}: {}", index + 1, why));
}

Result<std::string> StringField(const nlohmann::json& row, size_t index, const char* key,
                                bool required) {
  const auto it = row.find(key);
  if (it == row.end()) {
    if (required) return RowError(index, fmt::format("needs \"{}\"", key));
    return std::string();
  }
  if (!it->is_string()) return RowError(index, fmt::format("\"{}\" must be a string", key));
  std::string value = it->get<std::string>();
  if (value.size() > 256) return RowError(index, fmt::format("\"{}\" is over 256 bytes", key));
  return value;
}

}  // namespace

Result<CredentialsBook> CredentialsBook::Parse(std::string_view json_text) {
  const nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (!doc.is_array()) {
    return Status::InvalidArgument("credentials: the file must be a JSON list of rows");
  }
  CredentialsBook book;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& row = doc[i];
    if (!row.is_object()) return RowError(i, "must be an object");
    for (const auto& [key, value] : row.items()) {
      if (key != "family" && key != "cidr" && key != "user" && key != "password") {
        return RowError(i, fmt::format("unknown key {} (family, cidr, user, password)",
                                       Shown(key)));
      }
    }
    Result<std::string> family = StringField(row, i, "family", true);
    if (!family.ok()) return family.status();
    if (!FindDriver(*family)) {
      return RowError(i, fmt::format("no control driver for family {}", Shown(*family)));
    }
    Result<std::string> cidr = StringField(row, i, "cidr", false);
    Result<std::string> user = StringField(row, i, "user", false);
    Result<std::string> password = StringField(row, i, "password", true);
    for (const auto* field : {&cidr, &user, &password}) {
      if (!field->ok()) return field->status();
    }
    Row parsed{*family, std::nullopt, {*user, *password}};
    if (!cidr->empty()) {
      Result<Cidr> site = ParseCidr(*cidr);
      if (!site.ok()) return RowError(i, site.status().message());
      parsed.site = *site;
    }
    for (const Row& other : book.rows_) {
      const bool same_site = other.site.has_value() == parsed.site.has_value() &&
                             (!parsed.site || (other.site->network == parsed.site->network &&
                                               other.site->mask == parsed.site->mask));
      if (other.family == parsed.family && same_site) {
        return RowError(i, "repeats an earlier row's family and site");
      }
    }
    book.rows_.push_back(std::move(parsed));
  }
  return book;
}

Result<CredentialsBook> CredentialsBook::Load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::IoError(fmt::format("credentials file {}: cannot stat", Shown(path)));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(fmt::format(
        "credentials file {} is readable by others (mode {:o}): chmod 600 it", Shown(path),
        st.st_mode & 0777));
  }
  if (st.st_size > static_cast<off_t>(kMaxFileBytes)) {
    return Status::InvalidArgument(fmt::format("credentials file {} is over 1 MiB", Shown(path)));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(fmt::format("credentials file {}: cannot read", Shown(path)));
  std::ostringstream text;
  text << in.rdbuf();
  Result<CredentialsBook> book = Parse(text.str());
  if (!book.ok()) {
    return Status::InvalidArgument(fmt::format("{}: {}", path, book.status().message()));
  }
  return book;
}

void CredentialsBook::AddDefault(std::string family, Credentials credentials) {
  defaults_.push_back({std::move(family), std::nullopt, std::move(credentials)});
}

Credentials CredentialsBook::For(const MinerDriver& driver, std::string_view ip) const {
  const Result<uint32_t> address = ParseIpv4(ip);
  const Row* best = nullptr;
  for (const Row& row : rows_) {
    if (row.family != driver.family()) continue;
    if (row.site && (!address.ok() || !row.site->Contains(*address))) continue;
    const int specificity = row.site ? row.site->PrefixLength() : -1;
    const int best_specificity = best && best->site ? best->site->PrefixLength() : -1;
    if (!best || specificity > best_specificity) best = &row;
  }
  if (best) return best->credentials;
  for (const Row& row : defaults_) {
    if (row.family == driver.family()) return row.credentials;
  }
  return driver.StockCredentials();
}

}  // namespace asicmon::driver
