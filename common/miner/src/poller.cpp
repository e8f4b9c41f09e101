#include "asicmon/poller.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <span>
#include <utility>

#include "asicmon/clock.h"
#include "asicmon/http_digest.h"
#include "families/family.h"
#include "json_repair.h"
#include "normalise.h"

namespace asicmon {
namespace {

using Clock = std::chrono::steady_clock;

// What a miner is asked before its family is known: every cgminer-alike
// answers it (the request BuildRequest(kPollCommand) makes).
constexpr PollStep kGenericSteps[] = {
    {kPollCommand, Framing::kCgminer, 0, R"({"command":"summary+stats+pools"})"}};

std::span<const PollStep> StepsOf(const Family* family) {
  return family == nullptr || family->poll.empty() ? std::span<const PollStep>(kGenericSteps)
                                                   : family->poll;
}

bool IsDocumentFamily(const Family* f) { return f->read_documents != nullptr; }

// An HTTP server answers our JSON with a status line, a web UI or XML service
// with markup: neither is a cgminer-alike, however patient we are.
bool SpeaksAnotherProtocol(std::string_view reply) {
  const size_t first = reply.find_first_not_of(" \r\n\t");
  if (first == std::string_view::npos) return false;
  reply.remove_prefix(first);
  return reply.starts_with("HTTP/") || reply.starts_with("<");
}

// The outcome of one family's steps.
struct PlanOutcome {
  Record record;
  bool foreign = false;          // the first reply was HTTP or markup, and the plan asked neither
  bool http = false;             // ... and it was HTTP
  bool connect_timeout = false;  // nothing answered the first connect: no host to try again
};

void AppendError(std::string& errors, std::string_view step, std::string_view error) {
  if (!errors.empty()) errors += "; ";
  errors += step;
  errors += ": ";
  errors += error;
}

}  // namespace

void ReadPayloads(const Family* family, std::span<const PollStep> steps,
                  const std::vector<std::optional<std::string>>& payloads, std::string errors,
                  Record& record) {
  thread_local MinerJsonParser parser;
  if (family == nullptr || !IsDocumentFamily(family)) {
    // cgminer-alike replies, glued: the repair reads documents one after another.
    std::string glued;
    for (const std::optional<std::string>& p : payloads) {
      if (p) glued += *p;
    }
    NormaliseRawReply(glued, record);
  } else {
    // Each document repaired on its own, then parsed together as one array,
    // so every element stays valid while the family reads them.
    std::string combined = "[";
    std::vector<std::string_view> names;
    for (size_t i = 0; i < payloads.size(); ++i) {
      if (!payloads[i]) continue;
      Result<simdjson::dom::element> doc = parser.Parse(*payloads[i]);
      if (!doc.ok()) {
        AppendError(errors, steps[i].name, doc.status().message());
        continue;
      }
      if (!names.empty()) combined += ',';
      combined += parser.text();
      names.push_back(steps[i].name);
    }
    combined += ']';
    Record out;
    if (names.empty()) {
      out.status = MinerStatus::kParseError;
      out.error = errors.empty() ? "no document" : errors;
    } else {
      thread_local simdjson::dom::parser whole;
      simdjson::dom::array array;
      if (whole.parse(combined).get(array) != simdjson::SUCCESS) {
        out.status = MinerStatus::kParseError;
        out.error = "documents could not be read together";
      } else {
        std::vector<PolledDocument> documents;
        size_t i = 0;
        for (simdjson::dom::element e : array) documents.push_back({names[i++], e});
        family->read_documents(documents, out);
        if (out.status == MinerStatus::kOk) out.family = std::string(family->name);
        CompleteRecord(out);
      }
    }
    MoveReplyFields(out, record);
    if (record.status == MinerStatus::kOk && !errors.empty() && record.error.empty()) {
      record.error = std::move(errors);
    }
    return;
  }
  if (record.status == MinerStatus::kOk && !errors.empty()) {
    record.error = record.error.empty() ? errors : record.error + "; " + errors;
  }
}

namespace {

// A client nonce for Digest auth: it only needs to differ between requests.
std::string ClientNonce() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint64_t bits = random(); out.size() < 16; bits >>= 4) out += kHex[bits & 0xf];
  return out;
}

}  // namespace

struct Poller::Run : std::enable_shared_from_this<Run> {
  enum class Phase { kKnown, kOwnPort, kGeneric, kFamilyPlan, kCandidates };

  MinerClient* client = nullptr;
  const PollerOptions* options = nullptr;
  MinerEndpoint endpoint;
  Done done;
  Clock::time_point started = Clock::now();
  Phase phase = Phase::kGeneric;

  // Where a known family's lean plan is remembered; whether this run asked
  // the lean plan, or the full one with a lean plan to judge.
  std::shared_ptr<std::unordered_map<std::string, uint32_t>> lean_memory;
  bool lean = false;
  bool judge_lean = false;

  // The plan running now.
  const Family* family = nullptr;  // nullptr: the generic poll
  std::span<const PollStep> steps;
  size_t step = 0;
  std::vector<std::optional<std::string>> payloads;
  std::string step_errors;
  PlanOutcome outcome;
  bool connected = false;

  std::optional<PlanOutcome> generic;  // what the generic poll found
  const Family* own_port_family = nullptr;  // the family whose own port the target's is
  std::vector<const Family*> candidates;
  size_t next_candidate = 0;

  // The fingerprint's outcome while its web identity is asked.
  std::optional<PlanOutcome> identified;
  const Family* identity_family = nullptr;
  bool asked_with_credentials = false;

  void Start(const Family* plan_family, Phase next_phase,
             std::span<const PollStep> plan_steps = {}) {
    phase = next_phase;
    family = plan_family;
    steps = plan_steps.empty() ? StepsOf(plan_family) : plan_steps;
    step = 0;
    payloads.assign(steps.size(), std::nullopt);
    step_errors.clear();
    outcome = PlanOutcome{};
    NextStep();
  }

  // The deadline is the whole poll's, however many exchanges it takes.
  std::chrono::milliseconds Left() const {
    return client->options().deadline -
           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  }

  void NextStep() {
    const PollStep& s = steps[step];
    const auto left = Left();
    if (left <= std::chrono::milliseconds(0)) {
      ExchangeResult late;
      late.status = MinerStatus::kTimeout;
      late.error = "the poll's deadline passed before this exchange";
      return OnExchange(std::move(late));
    }
    MinerEndpoint to{endpoint.ip, s.port == 0 ? endpoint.port : s.port};
    client->Start(
        to, FrameRequest(s, endpoint.ip),
        [self = shared_from_this()](ExchangeResult&& r) { self->OnExchange(std::move(r)); },
        s.framing, left);
  }

  void OnExchange(ExchangeResult&& r) {
    const PollStep& s = steps[step];
    connected = connected || r.connected;
    if (step == 0 && r.status != MinerStatus::kOk) {
      // The first exchange decides whether the miner is there at all.
      outcome.record.status = r.status;
      outcome.record.error = std::move(r.error);
      outcome.connect_timeout = r.status == MinerStatus::kTimeout && !r.connected;
      return PlanDone();
    }
    if (step == 0 && s.framing != Framing::kHttp && SpeaksAnotherProtocol(r.reply)) {
      outcome.foreign = true;
      outcome.http = LooksLikeHttp(r.reply);
      outcome.record.status = MinerStatus::kParseError;  // not JSON, as far as the API goes
      outcome.record.error = outcome.http ? "an HTTP server, not a miner API"
                                          : "markup (a web page or XML), not a miner API";
      return PlanDone();
    }
    if (r.status != MinerStatus::kOk) {
      AppendError(step_errors, s.name, r.error);
    } else if (Payload p = ReplyPayload(s.framing, r.reply); p.ok) {
      payloads[step] = std::move(p.text);
    } else {
      AppendError(step_errors, s.name, p.text);
    }
    if (++step < steps.size()) return NextStep();
    ReadPayloads(family, steps, payloads, std::move(step_errors), outcome.record);
    PlanDone();
  }

  void PlanDone() {
    const bool ok = outcome.record.status == MinerStatus::kOk;
    switch (phase) {
      case Phase::kKnown:
        RememberLean(ok);
        // Re-fingerprint a miner that stopped answering as its family did (new
        // firmware); a timeout is a miner away, not a different one.
        if (ok || outcome.record.status == MinerStatus::kTimeout) return Finish(std::move(outcome));
        if (steps.data() == kGenericSteps) return OnGeneric();
        return Start(nullptr, Phase::kGeneric);
      case Phase::kOwnPort:
        // The target's port is that family's own (4433): it was asked first.
        if (ok) return Finish(std::move(outcome));
        return Start(nullptr, Phase::kGeneric);
      case Phase::kGeneric:
        return OnGeneric();
      case Phase::kFamilyPlan:
        return Finish(ok ? std::move(outcome) : std::move(*generic));
      case Phase::kCandidates:
        if (ok) return Finish(std::move(outcome));
        return NextCandidate();
    }
  }

  // After a known family's plan: a full poll says whether its lean plan
  // suffices from now on; a lean poll that failed asks the full plan next.
  void RememberLean(bool ok) {
    if (!lean && !judge_lean) return;
    const std::string key = endpoint.ToString();
    if (judge_lean && ok && family->lean_suffices(payloads)) {
      // Bounded: a sweep of hostile addresses must not grow it without end.
      if (lean_memory->size() >= kMaxLeanMiners) lean_memory->clear();
      (*lean_memory)[key] = 0;
    } else if (!ok || judge_lean) {
      lean_memory->erase(key);
    }
    lean = judge_lean = false;
  }

  static constexpr size_t kMaxLeanMiners = 1 << 20;

  void OnGeneric() {
    generic = std::move(outcome);
    if (generic->connect_timeout) return Finish(std::move(*generic));
    const bool ok = generic->record.status == MinerStatus::kOk;
    if (ok) {
      const Family* f = FindFamily(generic->record.family);
      if (f != nullptr && !f->poll.empty() && !IsDocumentFamily(f)) {
        return Start(f, Phase::kFamilyPlan);
      }
      return Finish(std::move(*generic));
    }
    // Not a cgminer-alike here: the families that speak something else.
    for (const Family* f : Families()) {
      if (!IsDocumentFamily(f) || f->poll.empty() || f == own_port_family) continue;
      const uint16_t port = f->poll.front().port;
      const bool on_target = port == 0 && f->poll.front().framing == Framing::kHttp;
      const bool allowed = std::find(options->ports.begin(), options->ports.end(), port) !=
                           options->ports.end();
      if (generic->http ? on_target : (port != 0 && allowed)) candidates.push_back(f);
    }
    NextCandidate();
  }

  void NextCandidate() {
    if (next_candidate < candidates.size()) {
      return Start(candidates[next_candidate++], Phase::kCandidates);
    }
    Finish(std::move(*generic));
  }

  // A fingerprint's outcome: its family's web identity first, where asked for.
  void Finish(PlanOutcome&& o) {
    if (phase != Phase::kKnown && options->web.enabled && o.record.status == MinerStatus::kOk &&
        o.record.mac.empty()) {
      const Family* f = FindFamily(o.record.family);
      if (f != nullptr && !f->identify.empty() && f->read_identity != nullptr) {
        identified = std::move(o);
        identity_family = f;
        return AskIdentity({});
      }
    }
    Deliver(std::move(o));
  }

  // Inside the poll's deadline too: a web port that does not answer costs a
  // sweep no more than a slow API would.
  void AskIdentity(const std::string& authorization) {
    const auto left = Left();
    if (left <= std::chrono::milliseconds(0)) return Deliver(std::move(*identified));
    const PollStep web_step{"identify", Framing::kHttp, options->web.port,
                            identity_family->identify};
    const std::string header =
        authorization.empty() ? std::string() : "Authorization: " + authorization + "\r\n";
    asked_with_credentials = !authorization.empty();
    client->Start(
        MinerEndpoint{endpoint.ip, options->web.port}, FrameRequest(web_step, endpoint.ip, header),
        [self = shared_from_this()](ExchangeResult&& r) { self->OnIdentity(std::move(r)); },
        Framing::kHttp, left);
  }

  // The web interface's answer: its identity read, a Digest challenge
  // answered once; anything else leaves the record as the API made it.
  void OnIdentity(ExchangeResult&& r) {
    if (r.status == MinerStatus::kOk) {
      Payload p = ReplyPayload(Framing::kHttp, r.reply);
      if (p.ok) {
        thread_local MinerJsonParser parser;
        if (Result<simdjson::dom::element> doc = parser.Parse(p.text);
            doc.ok() && doc->is_object()) {
          identity_family->read_identity(*doc, identified->record);
        }
      } else if (p.http_status == 401 && !asked_with_credentials) {
        if (const std::optional<DigestChallenge> c = DigestChallengeOf(r.reply)) {
          return AskIdentity(DigestAuthorization(*c, "GET", identity_family->identify,
                                                 options->web.user, options->web.password,
                                                 ClientNonce()));
        }
      }
    }
    Deliver(std::move(*identified));
  }

  void Deliver(PlanOutcome&& o) {
    PollResult result;
    result.record = std::move(o.record);
    result.foreign = o.foreign;
    result.connected = connected;
    result.record.ip = endpoint.ip;
    result.record.port = endpoint.port;
    result.record.ts = UnixNow();
    result.record.poll_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    Done callback = std::move(done);
    callback(std::move(result));
  }
};

Poller::Poller(MinerClient& client, PollerOptions options)
    : client_(client), options_(std::move(options)) {}

void Poller::Poll(const MinerEndpoint& endpoint, std::string_view family, Done done) {
  auto run = std::make_shared<Run>();
  run->client = &client_;
  run->options = &options_;
  run->endpoint = endpoint;
  run->done = std::move(done);
  if (const Family* known = FindFamily(family)) {
    if (known->lean_suffices != nullptr) {
      run->lean_memory = lean_;
      const auto it = lean_->find(endpoint.ToString());
      if (it != lean_->end() && ++it->second % kFullPollEvery != 0) {
        run->lean = true;
        return run->Start(known, Run::Phase::kKnown, known->lean_poll);
      }
      run->judge_lean = true;
    }
    return run->Start(known, Run::Phase::kKnown);
  }
  // A target on a document family's own port (4433) may not answer a cgminer
  // request at all (the v3 framing waits for its length prefix): that family first.
  for (const Family* f : Families()) {
    if (IsDocumentFamily(f) && !f->poll.empty() && f->poll.front().port == endpoint.port) {
      run->own_port_family = f;
      return run->Start(f, Run::Phase::kOwnPort);
    }
  }
  run->Start(nullptr, Run::Phase::kGeneric);
}

PollResult PollOnce(const MinerEndpoint& endpoint, std::string_view family,
                    const ExchangeOptions& exchange, const PollerOptions& options) {
  PollResult out;
  Result<std::unique_ptr<MinerClient>> client = MinerClient::Create(exchange);
  if (!client.ok()) {
    out.record.ip = endpoint.ip;
    out.record.port = endpoint.port;
    out.record.ts = UnixNow();
    out.record.status = MinerStatus::kRefused;
    out.record.error = client.status().message();
    return out;
  }
  Poller poller(**client, options);
  poller.Poll(endpoint, family, [&out](PollResult&& r) { out = std::move(r); });
  (*client)->RunUntilIdle();
  return out;
}

std::vector<std::string_view> FamilyNames() {
  std::vector<std::string_view> names;
  for (const Family* f : Families()) names.push_back(f->name);
  return names;
}

}  // namespace asicmon
