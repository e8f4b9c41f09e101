#include "asicmon/protocol.h"

#include <algorithm>
#include <cctype>

namespace asicmon {
namespace {

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) ==
                                                    std::tolower(static_cast<unsigned char>(b)); });
  return it != haystack.end();
}

std::string MsgText(const nlohmann::json& msg) {
  if (msg.is_string()) return msg.get<std::string>();
  if (msg.is_null()) return {};
  return msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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

ReplyStatus CheckReplyStatus(const nlohmann::json& reply) {
  ReplyStatus result;
  if (!reply.is_object()) return result;
  auto it = reply.find("STATUS");
  if (it == reply.end()) return result;

  // CGMiner: "STATUS":[{"STATUS":"S","Code":..,"Msg":..}]. Whatsminer: "STATUS":"E"
  // with Code and Msg beside it in the reply itself.
  const nlohmann::json* block = &reply;
  std::string letter;
  if (it->is_array() && !it->empty() && (*it)[0].is_object()) {
    block = &(*it)[0];
    auto s = block->find("STATUS");
    if (s != block->end() && s->is_string()) letter = s->get<std::string>();
  } else if (it->is_string()) {
    letter = it->get<std::string>();
  } else {
    return result;
  }
  if (auto code = block->find("Code"); code != block->end() && code->is_number_integer()) {
    result.code = code->get<int>();
  }
  if (auto msg = block->find("Msg"); msg != block->end()) result.msg = MsgText(*msg);

  if (letter == "S" || letter == "I") {
    result.kind = ReplyStatus::Kind::kOk;
  } else if (ContainsNoCase(result.msg, "access denied") || ContainsNoCase(result.msg, "permission")) {
    result.kind = ReplyStatus::Kind::kDenied;
  } else {
    result.kind = ReplyStatus::Kind::kError;
    if (result.msg.empty()) result.msg = "STATUS \"" + letter + "\"";
  }
  return result;
}

const nlohmann::json* ReplyPart(const nlohmann::json& reply, std::string_view command) {
  if (!reply.is_object()) return nullptr;
  if (reply.contains("STATUS")) {
    // A single-command reply: it answers `command` when it carries that section,
    // or when it is an error reply (which carries no section at all).
    if (reply.contains(UpperCase(command))) return &reply;
    const ReplyStatus status = CheckReplyStatus(reply);
    return status.ok() ? nullptr : &reply;
  }
  auto it = reply.find(std::string(command));
  if (it == reply.end()) return nullptr;
  if (it->is_array()) return it->empty() ? nullptr : &(*it)[0];
  return it->is_object() ? &*it : nullptr;
}

}  // namespace asicmon
