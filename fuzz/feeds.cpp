#include "feeds.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "asicmon/bus.h"
#include "asicmon/events.h"
#include "asicmon/health.h"
#include "asicmon/http_digest.h"
#include "families/family.h"
#include "json_repair.h"
#include "asicmon/miner_api.h"
#include "asicmon/outbox.h"
#include "asicmon/protocol.h"
#include "asicmon/record.h"
#include "asicmon/targets.h"
#include "families/family.h"
#include "curtail_config.h"
#include "fleet_requests.h"
#include "json_repair.h"
#include "validate.h"

namespace asicmon::fuzz {
namespace {

// Collects the verdict lines and the first broken invariant of one input.
class Checker {
 public:
  void Verdict(std::string_view parser, std::string_view text) {
    fmt::format_to(std::back_inserter(result_.verdict), "{}: {}\n", parser, text);
  }
  void Verdict(std::string_view parser, const Status& status) {
    Verdict(parser, status.ToString());
  }
  void Expect(bool holds, std::string_view invariant) {
    if (!holds && result_.violation.empty()) result_.violation = invariant;
  }
  // A verdict on input a client sent: a refusal must be a message it can be
  // sent (JSON). Whether `status` accepted the input.
  bool Validated(std::string_view what, const Status& status);
  FeedResult Take() { return std::move(result_); }

 private:
  FeedResult result_;
};

// A message a client is sent must serialise as JSON: nlohmann throws on
// invalid UTF-8, which would end a request handler with an exception.
bool SerialisesAsJson(const std::string& message) {
  try {
    (void)nlohmann::json(message).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

bool Checker::Validated(std::string_view what, const Status& status) {
  Verdict(what, status);
  Expect(status.ok() || (!status.message().empty() && SerialisesAsJson(status.message())),
         "a refusal is a message that serialises as JSON");
  return status.ok();
}

bool IsNan(const std::optional<double>& v) { return v && std::isnan(*v); }

bool HasNan(const Record& r) {
  for (const auto& v : {r.hashrate, r.hashrate_avg, r.hashrate_expected, r.temp_max, r.power_w}) {
    if (IsNan(v)) return true;
  }
  return std::any_of(r.boards.begin(), r.boards.end(), [](const BoardStats& b) {
    return IsNan(b.hashrate) || IsNan(b.hashrate_expected) || IsNan(b.temp_board) ||
           IsNan(b.temp_chip) || IsNan(b.freq_mhz);
  });
}

// Encode, decode, encode again gives the same bytes: what a stage sends, the
// next one reads back whole. (Bytes, not ==, so that a NaN compares equal.)
template <typename T, typename Encode, typename Decode>
bool RoundTrips(const T& value, Encode encode, Decode decode) {
  std::string first;
  encode(value, first);
  Result<T> again = decode(first);
  if (!again.ok()) return false;
  std::string second;
  encode(*again, second);
  return first == second;
}

template <typename T, typename Encode, typename Decode>
void CheckVersioned(Checker& check, std::string_view what, std::string_view input, Encode encode,
                    Decode decode) {
  Result<T> decoded = decode(input);
  check.Verdict(what, decoded.status());
  if (!decoded.ok()) {
    check.Expect(!decoded.status().message().empty(), "a refused message says why");
    return;
  }
  check.Expect(decoded->schema_version >= 1, "a decoded message has a schema version");
  check.Expect(RoundTrips(*decoded, encode, decode), "a decoded message re-encodes to itself");
}

// The body of an event of the kind T is read by: decoded whole or refused
// with a reason, and re-encoded to itself through DecodeEvent.
template <typename T, typename Encode, typename FromJson>
std::optional<T> CheckEvent(Checker& check, std::string_view what, const Event& event,
                            Encode encode, FromJson from_json) {
  Result<T> decoded = from_json(event.body);
  check.Verdict(what, decoded.status());
  if (!decoded.ok()) {
    check.Expect(!decoded.status().message().empty(), "a refused event says why");
    return std::nullopt;
  }
  const std::string first = encode(*decoded);
  const Result<Event> again = DecodeEvent(first);
  const Result<T> body = again.ok() && again->kind == event.kind
                             ? from_json(again->body)
                             : Result<T>(Status::ParseError("not decoded as its kind"));
  check.Expect(body.ok() && encode(*body) == first, "a decoded event re-encodes to itself");
  return std::move(*decoded);
}

bool IsSortedUnique(const std::vector<uint32_t>& v) {
  return std::adjacent_find(v.begin(), v.end(), std::greater_equal<>()) == v.end();
}

// Small enough that expanding costs microseconds, large enough for /16s.
constexpr size_t kFuzzMaxAddresses = size_t{1} << 16;

}  // namespace

// What holds for any record made of a miner's reply, whatever the bytes.
void CheckRecord(Checker& check, const Record& record) {
  check.Expect(record.status == MinerStatus::kOk || record.status == MinerStatus::kParseError ||
                   record.status == MinerStatus::kApiError ||
                   record.status == MinerStatus::kAuthError,
               "a whole reply is ok, parse_error, api_error or auth_error");
  check.Expect(record.status == MinerStatus::kOk || !record.error.empty(),
               "a record that is not ok says why");
  check.Expect(!HasNan(record), "no measurement is NaN (not reported is nullopt)");
  check.Expect(
      RoundTrips(
          record, [](const Record& r, std::string& out) { EncodeRecord(r, out); }, DecodeRecord),
      "the record survives the bus");
  // The direct JSON writer and the DOM give the same document.
  std::string direct;
  AppendRecordJson(record, direct);
  const nlohmann::json from_writer = nlohmann::json::parse(direct, nullptr, false);
  const nlohmann::json from_dom = nlohmann::json::parse(
      RecordToJson(record).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), nullptr,
      false);
  check.Expect(!from_writer.is_discarded() && from_writer == from_dom,
               "AppendRecordJson writes RecordToJson's document");
}

FeedResult FeedMinerReply(std::string_view input) {
  Checker check;
  const MinerEndpoint endpoint{"127.0.0.1", kMinerApiPort};
  ExchangeResult exchange;
  exchange.reply = std::string(input);
  exchange.elapsed_ms = 1;
  exchange.connected = true;
  const Record record = RecordFromExchange(endpoint, ExchangeResult(exchange));
  check.Verdict("record", record.error.empty()
                              ? std::string(ToString(record.status))
                              : fmt::format("{}: {}", ToString(record.status), record.error));
  CheckRecord(check, record);
  check.Expect(record.ip == endpoint.ip && record.port == endpoint.port,
               "the reply does not change the miner's address");

  const CommandResult command = InterpretCommandReply(std::move(exchange));
  check.Verdict("command", command.error.empty()
                               ? std::string(ToString(command.status))
                               : fmt::format("{}: {}", ToString(command.status), command.error));
  check.Expect(
      (command.status == MinerStatus::kParseError) == (record.status == MinerStatus::kParseError),
      "a poll and a command read the same bytes alike");
  check.Expect(command.status == MinerStatus::kParseError || !command.reply_json.empty(),
               "a parsed command reply keeps its JSON");
  return check.Take();
}

FeedResult FeedWhatsminerV3(std::string_view input) {
  Checker check;
  // Each frame a document, as a poll's steps bring them; a few at most.
  constexpr size_t kMaxFrames = 4;
  std::vector<std::unique_ptr<MinerJsonParser>> parsers;
  std::vector<PolledDocument> documents;
  std::string_view rest = input;
  while (!rest.empty() && documents.size() < kMaxFrames) {
    const std::optional<size_t> size = CompleteReplySize(Framing::kLengthPrefixed, rest);
    const Payload payload = ReplyPayload(Framing::kLengthPrefixed, rest);
    check.Verdict("frame", payload.ok ? Status::Ok() : Status::ParseError(payload.text));
    if (!payload.ok || !size) break;
    check.Expect(payload.text.size() + 4 == *size && *size <= rest.size(),
                 "a frame is its prefix and the length it declares");
    rest.remove_prefix(*size);
    auto& parser = parsers.emplace_back(std::make_unique<MinerJsonParser>());
    const Result<simdjson::dom::element> doc = parser->Parse(payload.text);
    check.Verdict("parse", doc.ok() ? Status::Ok() : doc.status());
    if (doc.ok()) documents.push_back({"get.miner.status", *doc});
  }
  const Family* family = FindFamily("whatsminer3");
  check.Expect(family != nullptr && family->read_documents != nullptr,
               "the v3 family reads documents");
  if (family == nullptr || family->read_documents == nullptr) return check.Take();
  Record record;
  record.ip = "127.0.0.1";
  record.port = kWhatsminerV3Port;
  family->read_documents(documents, record);
  check.Verdict("record", record.error.empty()
                              ? std::string(ToString(record.status))
                              : fmt::format("{}: {}", ToString(record.status), record.error));
  CheckRecord(check, record);
  check.Expect(record.status != MinerStatus::kParseError, "documents are read, not parsed again");
  check.Expect(record.ip == "127.0.0.1" && record.port == kWhatsminerV3Port,
               "the reply does not change the miner's address");
  return check.Take();
}

FeedResult FeedHttpReply(std::string_view input) {
  Checker check;
  const Payload payload = ReplyPayload(Framing::kHttp, input);
  check.Verdict("payload", payload.ok ? "ok" : payload.text);
  check.Expect(payload.ok || !payload.text.empty(), "a refused HTTP reply says why");
  for (const std::string_view body : {std::string_view(payload.text), input}) {
    if (!payload.ok && body.data() == payload.text.data()) continue;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(simdjson::padded_string(body)).get(doc) != simdjson::SUCCESS) continue;
    for (const Family* family : Families()) {
      if (family->read_documents == nullptr) continue;
      for (const PollStep& step : family->poll) {
        if (step.framing != Framing::kHttp) continue;
        const PolledDocument one[1] = {{step.name, doc}};
        Record record;
        family->read_documents(std::span<const PolledDocument>(one, 1), record);
        check.Verdict(family->name,
                      record.error.empty() ? std::string(ToString(record.status)) : record.error);
        CheckRecord(check, record);
        check.Expect(record.status == MinerStatus::kOk || record.status == MinerStatus::kApiError,
                     "a document is read (ok) or not its family's (api_error)");
      }
    }
  }
  return check.Take();
}

FeedResult FeedWebIdentity(std::string_view input) {
  Checker check;
  if (const std::optional<DigestChallenge> c = DigestChallengeOf(input)) {
    check.Verdict("challenge", fmt::format("realm {} qop {}", c->realm, c->qop_auth));
    const std::string header = DigestAuthorization(*c, "GET", "/cgi-bin/get_system_info.cgi",
                                                   "root", "root", "0a4f113b");
    const auto params = ParseDigestAuthorization(header);
    check.Expect(params.has_value(), "our Authorization parses as Digest parameters");
    if (params) {
      const auto same = [&](std::string_view name, const std::string& value) {
        return std::any_of(params->begin(), params->end(),
                           [&](const auto& p) { return p.first == name && p.second == value; });
      };
      check.Expect(same("nonce", c->nonce) && same("realm", c->realm),
                   "the answer carries the challenge's nonce and realm as sent");
    }
  } else {
    check.Verdict("challenge", "none");
  }
  const Payload payload = ReplyPayload(Framing::kHttp, input);
  check.Verdict("payload", payload.ok ? Status::Ok() : Status::ParseError(payload.text));
  if (!payload.ok) return check.Take();
  MinerJsonParser parser;
  const Result<simdjson::dom::element> doc = parser.Parse(payload.text);
  check.Verdict("parse", doc.ok() ? Status::Ok() : doc.status());
  const Family* family = FindFamily("antminer");
  check.Expect(family != nullptr && family->read_identity != nullptr,
               "the antminer family reads its web identity");
  if (!doc.ok() || !doc->is_object() || family == nullptr || family->read_identity == nullptr) {
    return check.Take();
  }
  Record record;
  record.status = MinerStatus::kOk;
  family->read_identity(*doc, record);
  check.Verdict("identity", fmt::format("mac '{}'", record.mac));
  check.Expect(record.mac.empty() || MacAddress(record.mac) == record.mac,
               "a MAC is read as aa:bb:cc:dd:ee:ff or not at all");
  CheckRecord(check, record);
  return check.Take();
}

FeedResult FeedJsonRepair(std::string_view input) {
  Checker check;
  RepairStats stats;
  const Result<std::string> repaired = RepairMinerJson(input, &stats);
  check.Verdict("repair", repaired.ok() ? Status::Ok() : repaired.status());

  MinerJsonParser parser;
  const Result<simdjson::dom::element> parsed = parser.Parse(input);
  check.Verdict("parse", parsed.ok() ? Status::Ok() : parsed.status());

  // Strict JSON goes through as it is (whitespace aside), unless it nests
  // deeper than the repair allows.
  simdjson::dom::parser strict_parser;
  simdjson::dom::element strict;
  const bool is_strict =
      strict_parser.parse(simdjson::padded_string(input)).get(strict) == simdjson::SUCCESS;
  if (is_strict) {
    check.Expect(repaired.ok() || repaired.status().message().starts_with("nesting deeper"),
                 "strict JSON is accepted");
    check.Expect(!repaired.ok() || stats.total() == 0, "strict JSON is not repaired");
    check.Expect(!parsed.ok() || simdjson::minify(*parsed) == simdjson::minify(strict),
                 "strict JSON means the same after repair");
  }

  if (!repaired.ok()) {
    check.Expect(!repaired.status().message().empty(), "a refused reply says why");
    check.Expect(!parsed.ok() && parsed.status().message() == repaired.status().message(),
                 "the parser refuses what the repair refuses, for the same reason");
    return check.Take();
  }
  check.Expect(simdjson::validate_utf8(repaired->data(), repaired->size()),
               "repaired text is UTF-8");
  RepairStats again_stats;
  const Result<std::string> again = RepairMinerJson(*repaired, &again_stats);
  check.Expect(again.ok() && *again == *repaired && again_stats.total() == 0,
               "repaired text needs no second repair");
  if (parsed.ok()) check.Expect(parser.text() == *repaired, "the parser parses the repaired text");
  return check.Take();
}

FeedResult FeedBusMessage(std::string_view input) {
  Checker check;
  CheckVersioned<Record>(
      check, "record", input, [](const Record& r, std::string& out) { EncodeRecord(r, out); },
      DecodeRecord);
  CheckVersioned<InventoryEntry>(check, "inventory", input, EncodeInventory, DecodeInventory);
  CheckVersioned<PollJob>(check, "poll job", input, EncodePollJob, DecodePollJob);
  if (const Result<Event> event = DecodeEvent(input); !event.ok()) {
    check.Verdict("event", event.status());
    check.Expect(!event.status().message().empty(), "a refused event says why");
  } else if (event->kind == EventKind::kHealth) {
    if (const std::optional<HealthEvent> health = CheckEvent<HealthEvent>(
            check, "health event", *event, EncodeHealthEvent, HealthEventFromJson)) {
      check.Expect(health->port >= 1, "a health event names a port");
    }
  } else if (event->kind == EventKind::kStats) {
    CheckEvent<bus::StageStats>(check, "stage stats", *event, bus::EncodeStageStats,
                                bus::StageStatsFromJson);
  } else {
    // Control's events are typed by the store alone (store/sleep.h), which
    // the fuzz build does not compile.
    check.Verdict("event",
                  event->kind == EventKind::kControl ? "OK (control)" : "OK (another kind)");
  }
  if (const Result<bus::StoreAck> ack = bus::DecodeStoreAck(input); !ack.ok()) {
    check.Verdict("ack", ack.status());
    check.Expect(!ack.status().message().empty(), "a refused message says why");
  } else {
    check.Verdict("ack", "OK");
    const std::string first = bus::EncodeStoreAck(*ack);
    const Result<bus::StoreAck> again = bus::DecodeStoreAck(first);
    check.Expect(again.ok() && bus::EncodeStoreAck(*again) == first,
                 "a decoded ack re-encodes to itself");
    for (const bus::AckedSeqs& a : ack->acked) {
      check.Expect(a.ranges.size() % 2 == 0, "an ack's ranges come in pairs");
    }
  }
  return check.Take();
}

FeedResult FeedTargets(std::string_view input) {
  Checker check;
  const size_t newline = input.find('\n');
  const std::vector<std::string> include{std::string(input.substr(0, newline))};
  const std::vector<std::string> exclude{
      newline == std::string_view::npos ? std::string() : std::string(input.substr(newline + 1))};

  if (const Result<uint32_t> ip = ParseIpv4(include[0]); ip.ok()) {
    const Result<uint32_t> printed = ParseIpv4(Ipv4ToString(*ip));
    check.Expect(printed.ok() && *printed == *ip, "a parsed address prints back as itself");
  }

  const Result<std::vector<uint32_t>> targets = ExpandTargets(include, exclude, kFuzzMaxAddresses);
  if (!targets.ok()) {
    check.Verdict("targets", targets.status());
    check.Expect(!targets.status().message().empty(), "a refused spec says why");
    return check.Take();
  }
  check.Verdict("targets", fmt::format("OK: {} addresses", targets->size()));
  check.Expect(IsSortedUnique(*targets), "targets are sorted and unique");
  check.Expect(targets->size() <= kFuzzMaxAddresses, "targets stay under the cap");
  // Exactly the included addresses that are not excluded.
  const Result<std::vector<uint32_t>> included = ExpandTargets(include, {}, kFuzzMaxAddresses);
  check.Expect(included.ok(), "the include list alone expands");
  if (!included.ok()) return check.Take();
  const Result<std::vector<uint32_t>> excluded = ExpandTargets(exclude, {}, kFuzzMaxAddresses);
  if (excluded.ok()) {
    std::vector<uint32_t> expected;
    std::set_difference(included->begin(), included->end(), excluded->begin(), excluded->end(),
                        std::back_inserter(expected));
    check.Expect(*targets == expected, "targets are the included minus the excluded");
  } else {
    check.Expect(
        std::includes(included->begin(), included->end(), targets->begin(), targets->end()),
        "targets are all included");
  }
  return check.Take();
}

FeedResult FeedControlRequest(std::string_view input) {
  using namespace control;
  Checker check;

  // As the pool action reads its body (control/command_handlers.cpp).
  const Result<PoolChange> pool = PoolChangeFromJson(nlohmann::json::parse(input, nullptr, false));
  if (check.Validated("pool body", pool.status())) {
    check.Expect(!pool->pools.empty() && pool->pools.size() <= driver::kMaxPools,
                 "an accepted pool change has 1 to 3 pools");
    for (const driver::PoolSetting& p : pool->pools) {
      check.Expect(ValidatePoolUrl(p.url).ok() && ValidatePoolField("user", p.user, false).ok() &&
                       ValidatePoolField("password", p.password, true).ok(),
                   "an accepted pool change validates");
      // cgminer splits addpool's parameter at commas and reads it from a JSON string.
      const std::string parameter = fmt::format("{},{},{}", p.url, p.user, p.password);
      check.Expect(std::count(parameter.begin(), parameter.end(), ',') == 2,
                   "an accepted pool change is three addpool parameters");
      const nlohmann::json request =
          nlohmann::json::parse(BuildRequest("addpool", parameter), nullptr, false);
      const auto sent = request.find("parameter");
      check.Expect(sent != request.end() && *sent == parameter,
                   "an accepted pool change stays inside its API request");
    }
  }
  const Result<PowerChange> power =
      PowerChangeFromJson(nlohmann::json::parse(input, nullptr, false));
  if (check.Validated("power body", power.status())) {
    check.Expect(power->mode.has_value() != power->limit_w.has_value(),
                 "an accepted power change is a mode or a limit");
  }

  // The same bytes as each field of a path or body.
  const bool ip_ok = check.Validated("ip", ValidateIp(input));
  const Result<uint32_t> ip = ParseIpv4(input);
  const bool canonical = ip.ok() && Ipv4ToString(*ip) == input;
  check.Expect(ip_ok == canonical, "an accepted ip is exactly a dotted quad as it prints");
  if (check.Validated("worker", ValidateWorker(input))) {
    check.Expect(input.find_first_of(",\"\\ ") == std::string_view::npos,
                 "an accepted worker has no separator or quote");
  }
  if (check.Validated("pool url", ValidatePoolUrl(input))) {
    check.Expect(input.find_first_of(",\"\\ ") == std::string_view::npos,
                 "an accepted pool url has no separator or quote");
  }
  check.Validated("pool user", ValidatePoolField("user", input, false));
  if (const Result<Cidr> cidr = ParseCidr(input); check.Validated("cidr", cidr.status())) {
    check.Expect((cidr->network & ~cidr->mask) == 0 && cidr->Contains(cidr->network),
                 "an accepted cidr is a network with its host bits clear");
  }
  return check.Take();
}

FeedResult FeedFleetRequest(std::string_view input) {
  using namespace control;
  Checker check;
  const Result<BulkRequest> bulk = ParseBulkRequest(input);
  if (check.Validated("bulk", bulk.status())) {
    const nlohmann::json select = bulk->select.ToJson();
    check.Expect(!select.empty(), "an accepted bulk request selects by something");
    check.Expect(bulk->max_parallel >= 1 && bulk->max_parallel <= kMaxParallelLimit,
                 "an accepted max_parallel is within its limit");
    // A job shows its request (GET /actions/{id}); the same request sent
    // again is accepted and means the same.
    const nlohmann::json again_body = {{"action", ToString(bulk->kind)},
                                       {"select", select},
                                       {"params", bulk->ParamsJson(/*with_password=*/true)},
                                       {"max_parallel", bulk->max_parallel},
                                       {"dry_run", bulk->dry_run}};
    const Result<BulkRequest> again = ParseBulkRequest(again_body.dump());
    check.Expect(again.ok() && again->kind == bulk->kind && again->select.ToJson() == select &&
                     again->pool.pools == bulk->pool.pools && again->power == bulk->power &&
                     again->on == bulk->on &&
                     again->wait == bulk->wait && again->max_parallel == bulk->max_parallel &&
                     again->dry_run == bulk->dry_run,
                 "an accepted bulk request, shown and sent again, means the same");
  }

  const Result<RemediationConfig> rules = ParseRemediationConfig(input);
  if (check.Validated("rules", rules.status())) {
    check.Expect(rules->max_concurrent >= 1, "an accepted rules file lets something run");
    std::set<std::string> names;
    for (const RemediationRule& rule : rules->rules) {
      check.Expect(names.insert(rule.name).second, "accepted rule names are unique");
      check.Expect(IsHoldingKind(rule.kind), "an accepted rule waits on a condition that holds");
      check.Expect(rule.action != ActionKind::kPool && rule.action != ActionKind::kWake,
                   "an accepted rule acts without parameters");
      check.Expect(std::isfinite(rule.hold_s) && rule.hold_s >= 0 && std::isfinite(rule.grace_s) &&
                       rule.grace_s >= 0 && rule.max_per_miner_per_day >= 1,
                   "an accepted rule has finite times and a daily limit");
    }
    for (const QuietWindow& window : rules->quiet_hours) {
      check.Expect(window.from_minute != window.to_minute && window.from_minute >= 0 &&
                       window.from_minute < 24 * 60 && window.to_minute >= 0 &&
                       window.to_minute < 24 * 60,
                   "an accepted quiet window is two different times of day");
      const double at_start = window.from_minute * 60.0;
      check.Expect(window.Contains(at_start) && !window.Contains(window.to_minute * 60.0),
                   "a quiet window holds its start and not its end");
    }
  }

  // POST /curtail, as if sent at a fixed time.
  constexpr double kNow = 1.7e9;
  const Result<CurtailRequest> curtail = ParseCurtailRequest(input, kNow);
  if (check.Validated("curtail", curtail.status())) {
    check.Expect(std::isfinite(curtail->target_w) && curtail->target_w >= 0,
                 "an accepted curtailment has a finite target");
    check.Expect(!curtail->ramp_w_per_min ||
                     (std::isfinite(*curtail->ramp_w_per_min) && *curtail->ramp_w_per_min > 0),
                 "an accepted ramp sheds something each minute");
    check.Expect(!curtail->until || *curtail->until > kNow,
                 "an accepted curtailment ends in the future");
    check.Expect(curtail->max_parallel >= 1 && curtail->max_parallel <= 500,
                 "an accepted max_parallel is within its limit");
  }
  const Result<std::vector<CurtailWindow>> windows = ParseCurtailWindows(input);
  if (check.Validated("curtail windows", windows.status())) {
    for (size_t i = 0; i < windows->size(); ++i) {
      const CurtailWindow& w = (*windows)[i];
      check.Expect(std::isfinite(w.target_w) && w.target_w >= 0 &&
                       w.when.Contains(w.when.from_minute * 60.0),
                   "an accepted window has a finite target and holds its start");
      for (size_t j = 0; j < i; ++j) {
        check.Expect(!(*windows)[j].when.Contains(w.when.from_minute * 60.0),
                     "accepted windows do not overlap");
      }
    }
  }
  return check.Take();
}

void FeedOrAbort(Feed feed, const uint8_t* data, size_t size) {
  const FeedResult result = feed(std::string_view(reinterpret_cast<const char*>(data), size));
  if (result.violation.empty()) return;
  std::fprintf(stderr, "invariant broken: %s\nverdict:\n%s", result.violation.c_str(),
               result.verdict.c_str());
  std::abort();
}

}  // namespace asicmon::fuzz
