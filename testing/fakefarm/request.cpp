#include "request.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

namespace asicmon::fakefarm {
namespace {

// Containers a request may nest below its top-level object, so a hostile
// request cannot exhaust memory or time: 65 levels parse, as before the
// parser became nlohmann's.
constexpr int kMaxDepth = 66;

// Picks "command" and "parameter" out of the top-level object without
// building a document; the last of a repeated key wins.
class RequestSax final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit RequestSax(Request& out) : out_(out) {}

  bool have_command = false;
  bool command_is_string = false;

  bool null() override { return Scalar(); }
  bool boolean(bool b) override {
    if (depth_ == 1 && key_ == Key::kNewApi && Value()) {
      out_.new_api = b;
      return true;
    }
    return Scalar();
  }
  bool number_integer(number_integer_t v) override { return Integer(v); }
  bool number_unsigned(number_unsigned_t v) override {
    // jansson's integer reader refuses text past int64 ("too big integer"),
    // so cgminer answers Invalid JSON.
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    return Integer(static_cast<int64_t>(v));
  }
  bool number_float(number_float_t, const string_t& text) override {
    // nlohmann reads an integer too large for 64 bits as a real; jansson
    // refuses it (above). Only text with a fraction or an exponent is a real
    // ("%f" of strtod, as jansson formats it).
    if (text.find_first_of(".eE") == string_t::npos) return false;
    if (!Value()) return false;
    if (depth_ == 1 && key_ == Key::kParameter) {
      out_.parameter = fmt::format("{:f}", std::strtod(text.c_str(), nullptr));
      out_.has_parameter = true;
    } else {
      Other();
    }
    return true;
  }
  bool string(string_t& s) override {
    // jansson refuses "\u0000" unless asked to allow it (JSON_ALLOW_NUL),
    // and cgminer does not ask.
    if (s.find('\0') != string_t::npos || !Value()) return false;
    if (depth_ == 1 && key_ == Key::kCommand) {
      out_.command = s;
      have_command = command_is_string = true;
    } else if (depth_ == 1 && key_ == Key::kParameter) {
      out_.parameter = s;
      out_.has_parameter = true;
    } else if (depth_ == 1 && key_ == Key::kCmd) {
      out_.cmd = s;
    } else if (depth_ == 1 && key_ == Key::kParam) {
      out_.param = s;
    }
    return true;
  }
  bool binary(binary_t&) override { return false; }  // not in JSON
  bool start_object(std::size_t) override { return Open(); }
  bool key(string_t& k) override {
    if (k.find('\0') != string_t::npos) return false;  // as string()
    if (depth_ == 1) {
      key_ = k == "command"     ? Key::kCommand
             : k == "parameter" ? Key::kParameter
             : k == "new_api"   ? Key::kNewApi
             : k == "cmd"       ? Key::kCmd
             : k == "param"     ? Key::kParam
                                : Key::kOther;
    }
    return true;
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  enum class Key { kOther, kCommand, kParameter, kNewApi, kCmd, kParam };

  // A value may start here: within the depth bound.
  bool Value() const { return depth_ < kMaxDepth; }
  // A value other than text or a number, at the top-level key it belongs to.
  void Other() {
    if (depth_ != 1) return;
    if (key_ == Key::kCommand) {
      have_command = true;
      command_is_string = false;
    } else if (key_ == Key::kParameter) {
      out_.has_parameter = false;
    } else if (key_ == Key::kCmd) {
      out_.cmd.clear();
    } else if (key_ == Key::kParam) {
      out_.param.clear();
    }
  }
  bool Scalar() {
    if (!Value()) return false;
    Other();
    return true;
  }
  bool Integer(int64_t v) {
    if (!Value()) return false;
    if (depth_ == 1 && key_ == Key::kParameter) {
      out_.parameter = fmt::format("{}", static_cast<int>(v));
      out_.has_parameter = true;
    } else {
      Other();
    }
    return true;
  }
  bool Open() {
    if (!Value()) return false;
    Other();
    ++depth_;
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }

  Request& out_;
  int depth_ = 0;  // 1 inside the top-level object
  Key key_ = Key::kOther;
};

}  // namespace

ParseOutcome ParseRequest(std::string_view request, Request& out) {
  out.command.clear();
  out.parameter.clear();
  out.has_parameter = false;
  out.new_api = false;
  out.cmd.clear();
  out.param.clear();
  // cgminer's api.c looks at the first byte only (`*buf != ISJSON`): a
  // request with a blank before its '{' is a text command, and no command.
  if (request.empty() || request.front() != '{') {
    const size_t bar = request.find('|');
    out.command.assign(request.substr(0, bar));
    if (bar != std::string_view::npos) {
      out.parameter.assign(request.substr(bar + 1));
      out.has_parameter = true;
    }
    // Text requests end at the first NUL, as C string handling makes them.
    if (size_t nul = out.command.find('\0'); nul != std::string::npos) out.command.resize(nul);
    return ParseOutcome::kOk;
  }
  RequestSax sax(out);
  // Strict: text after the object is Invalid JSON, as jansson's json_loads says.
  if (!nlohmann::json::sax_parse(request.begin(), request.end(), &sax)) {
    return ParseOutcome::kInvalidJson;
  }
  if (!sax.have_command) return ParseOutcome::kMissingCommand;
  if (!sax.command_is_string) return ParseOutcome::kCommandNotString;
  return ParseOutcome::kOk;
}

}  // namespace asicmon::fakefarm
