#include "asicmon/protocol.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>

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
  // with Code and Msg beside it in the reply itself. Bitmain's new API layout
  // ({"command":..,"new_api":true}, and the web CGIs): "STATUS":{"STATUS":"S",
  // "when":..,"Msg":"stats","api_version":"1.0.0"}, one object, no Code.
  element block = reply;
  std::string_view letter;
  simdjson::dom::array list;
  std::optional<element> object;  // the STATUS object, when it is one
  if (status->get(list) == simdjson::SUCCESS) {
    element first;
    if (list.at(0).get(first) != simdjson::SUCCESS || !first.is_object()) return result;
    object = first;
  } else if (status->is_object()) {
    object = status;
  } else if (status->get(letter) != simdjson::SUCCESS) {
    return result;
  }
  if (object) {
    block = *object;
    std::string_view text;
    if (const std::optional<element> s = MemberOf(block, "STATUS");
        s && s->get(text) == simdjson::SUCCESS) {
      letter = text;
    }
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

namespace asicmon {
namespace {

constexpr size_t kPrefixBytes = 4;

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// The head of an HTTP response: status, where the body starts and how it ends.
struct HttpHead {
  int status = 0;
  size_t body_at = 0;
  std::optional<size_t> content_length;
  bool chunked = false;
};

std::optional<HttpHead> ReadHttpHead(std::string_view reply) {
  const size_t end = reply.find("\r\n\r\n");
  if (!LooksLikeHttp(reply) || end == std::string_view::npos) return std::nullopt;
  HttpHead head;
  head.body_at = end + 4;
  std::string_view lines = reply.substr(0, end);
  const size_t first_end = lines.find("\r\n");
  const std::string_view status_line = lines.substr(0, first_end);
  const size_t space = status_line.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::optional<int64_t> code = ParseInt(status_line.substr(space + 1, 3));
  if (!code) return std::nullopt;
  head.status = static_cast<int>(*code);
  lines = first_end == std::string_view::npos ? std::string_view{} : lines.substr(first_end + 2);
  while (!lines.empty()) {
    const size_t eol = lines.find("\r\n");
    const std::string_view line = lines.substr(0, eol);
    lines = eol == std::string_view::npos ? std::string_view{} : lines.substr(eol + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsNoCase(name, "Content-Length")) {
      const std::optional<int64_t> n = ParseInt(value);
      if (!n || *n < 0) return std::nullopt;
      head.content_length = static_cast<size_t>(*n);
    } else if (EqualsNoCase(name, "Transfer-Encoding")) {
      head.chunked = ContainsNoCase(value, "chunked");
    }
  }
  return head;
}

// Decodes a chunked body; nullopt when it is cut short or malformed.
std::optional<std::string> Dechunk(std::string_view body) {
  std::string out;
  while (true) {
    const size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view size_text = body.substr(0, eol);
    size_text = size_text.substr(0, size_text.find(';'));  // chunk extensions
    size_t size = 0;
    const auto [ptr, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(),
                                           size, 16);
    if (ec != std::errc() || ptr != size_text.data() + size_text.size()) return std::nullopt;
    body.remove_prefix(eol + 2);
    if (size == 0) return out;
    if (body.size() < size + 2) return std::nullopt;
    out.append(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

}  // namespace

bool LooksLikeHttp(std::string_view reply) { return reply.starts_with("HTTP/1."); }

std::string FrameRequest(const PollStep& step, std::string_view host,
                         std::string_view extra_headers) {
  switch (step.framing) {
    case Framing::kCgminer: return std::string(step.request);
    case Framing::kLengthPrefixed: {
      std::string out(kPrefixBytes, '\0');
      const auto size = static_cast<uint32_t>(step.request.size());
      for (size_t i = 0; i < kPrefixBytes; ++i) out[i] = static_cast<char>((size >> (8 * i)) & 0xff);
      out.append(step.request);
      return out;
    }
    case Framing::kHttp: {
      std::string out = "GET ";
      out.append(step.request);
      out.append(" HTTP/1.1\r\nHost: ");
      out.append(host);
      out.append("\r\nAccept: application/json\r\nConnection: close\r\n");
      out.append(extra_headers);
      out.append("\r\n");
      return out;
    }
  }
  return std::string(step.request);
}

std::optional<size_t> CompleteReplySize(Framing framing, std::string_view received) {
  switch (framing) {
    case Framing::kCgminer: return std::nullopt;  // the NUL or the close says
    case Framing::kLengthPrefixed: {
      if (received.size() < kPrefixBytes) return std::nullopt;
      uint32_t size = 0;
      for (size_t i = 0; i < kPrefixBytes; ++i) {
        size |= static_cast<uint32_t>(static_cast<unsigned char>(received[i])) << (8 * i);
      }
      return kPrefixBytes + size;
    }
    case Framing::kHttp: {
      const std::optional<HttpHead> head = ReadHttpHead(received);
      if (!head || head->chunked || !head->content_length) return std::nullopt;
      return head->body_at + *head->content_length;
    }
  }
  return std::nullopt;
}

Payload ReplyPayload(Framing framing, std::string_view reply) {
  Payload p;
  switch (framing) {
    case Framing::kCgminer:
      p.ok = true;
      p.text = std::string(reply);
      return p;
    case Framing::kLengthPrefixed: {
      const std::optional<size_t> size = CompleteReplySize(framing, reply);
      if (!size || reply.size() < *size) {
        p.text = "reply shorter than its length prefix";
        return p;
      }
      p.ok = true;
      p.text = std::string(reply.substr(kPrefixBytes, *size - kPrefixBytes));
      return p;
    }
    case Framing::kHttp: {
      const std::optional<HttpHead> head = ReadHttpHead(reply);
      if (!head) {
        p.text = "not an HTTP response";
        return p;
      }
      p.http_status = head->status;
      std::string_view body = reply.substr(head->body_at);
      if (head->chunked) {
        std::optional<std::string> decoded = Dechunk(body);
        if (!decoded) {
          p.text = "HTTP chunked body cut short or malformed";
          return p;
        }
        p.text = std::move(*decoded);
      } else if (head->content_length) {
        if (body.size() < *head->content_length) {
          p.text = "HTTP body shorter than its Content-Length";
          return p;
        }
        p.text = std::string(body.substr(0, *head->content_length));
      } else {
        p.text = std::string(body);
      }
      if (head->status < 200 || head->status > 299) {
        p.text = "HTTP " + std::to_string(head->status);
        return p;
      }
      p.ok = true;
      return p;
    }
  }
  return p;
}

}  // namespace asicmon
