#include "asicmon/protocol.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "json_read.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

std::string MsgText(element msg) {
  std::string_view text;
  if (msg.get(text) == simdjson::SUCCESS) return std::string(text);
  if (msg.is_null()) return {};
  return simdjson::minify(msg);
}

std::string UpperCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string BuildRequest(std::string_view command, std::string_view parameter) {
  nlohmann::json request = {{"command", command}};
  if (!parameter.empty()) request["parameter"] = parameter;
  return request.dump();
}

ReplyStatus CheckReplyStatus(element reply) {
  ReplyStatus result;
  const std::optional<element> status = MemberOf(reply, "STATUS");
  if (!status) return result;

  // CGMiner: "STATUS":[{"STATUS":"S","Code":..,"Msg":..}]. Whatsminer: "STATUS":"E"
  // with Code and Msg beside it in the reply itself.
  element block = reply;
  std::string_view letter;
  simdjson::dom::array list;
  if (status->get(list) == simdjson::SUCCESS) {
    element first;
    if (list.at(0).get(first) != simdjson::SUCCESS || !first.is_object()) return result;
    block = first;
    std::string_view text;
    if (const std::optional<element> s = MemberOf(block, "STATUS");
        s && s->get(text) == simdjson::SUCCESS) {
      letter = text;
    }
  } else if (status->get(letter) != simdjson::SUCCESS) {
    return result;
  }
  if (const std::optional<element> code = MemberOf(block, "Code")) {
    int64_t n = 0;
    if (code->get(n) == simdjson::SUCCESS && n >= INT32_MIN && n <= INT32_MAX) {
      result.code = static_cast<int>(n);
    }
  }
  if (const std::optional<element> msg = MemberOf(block, "Msg")) result.msg = MsgText(*msg);
  result.letter = letter;

  if (letter == "S" || letter == "I") {
    result.kind = ReplyStatus::Kind::kOk;
  } else if (ContainsNoCase(result.msg, "access denied") || ContainsNoCase(result.msg, "permission")) {
    result.kind = ReplyStatus::Kind::kDenied;
  } else {
    result.kind = ReplyStatus::Kind::kError;
    if (result.msg.empty()) result.msg = "STATUS \"" + std::string(letter) + "\"";
  }
  return result;
}

std::optional<element> ReplyPart(element reply, std::string_view command) {
  if (!reply.is_object()) return std::nullopt;
  if (MemberOf(reply, "STATUS")) {
    // A single-command reply: it answers `command` when it carries that section,
    // or when it is an error reply (which carries no section at all).
    if (MemberOf(reply, UpperCase(command))) return reply;
    const ReplyStatus status = CheckReplyStatus(reply);
    return status.ok() ? std::nullopt : std::optional<element>(reply);
  }
  const std::optional<element> part = MemberOf(reply, command);
  if (!part) return std::nullopt;
  simdjson::dom::array list;
  if (part->get(list) == simdjson::SUCCESS) {
    element first;
    if (list.at(0).get(first) != simdjson::SUCCESS) return std::nullopt;
    return first;
  }
  return part->is_object() ? part : std::nullopt;
}

}  // namespace asicmon
