#include "scanner.h"

#include <string_view>

#include "asicmon/log.h"
#include "asicmon/protocol.h"
#include "asicmon/targets.h"

namespace asicmon::discover {
namespace {

using Clock = std::chrono::steady_clock;

// Model and firmware (version) with the worker (pools) in one light exchange.
constexpr std::string_view kIdentifyCommand = "version+pools";

// An HTTP server answers our JSON with a status line, a web UI or XML service
// with markup: neither is a miner, however patient we are.
bool SpeaksAnotherProtocol(std::string_view reply) {
  while (!reply.empty() && (reply.front() == ' ' || reply.front() == '\r' ||
                            reply.front() == '\n' || reply.front() == '\t')) {
    reply.remove_prefix(1);
  }
  return reply.starts_with("HTTP/") || reply.starts_with("<");
}

ProbeOutcome Classify(uint32_t address, uint16_t port, ExchangeResult&& result) {
  ProbeOutcome out;
  out.address = address;
  out.port = port;
  if (SpeaksAnotherProtocol(result.reply)) {
    out.kind = ProbeOutcome::Kind::kForeign;
    out.detail = SafeForLog(result.reply, 40);
    return out;
  }
  Record record = RecordFromExchange(MinerEndpoint{Ipv4ToString(address), port}, std::move(result));
  out.model = std::move(record.model);
  out.firmware = std::move(record.firmware);
  out.worker = std::move(record.worker);
  out.family = std::move(record.family);
  out.mac = std::move(record.mac);
  out.serial = std::move(record.serial);
  out.hostname = std::move(record.hostname);
  if (record.status == MinerStatus::kOk) {
    out.kind = ProbeOutcome::Kind::kMiner;
  } else {
    out.kind = ProbeOutcome::Kind::kUnidentified;
    out.detail = std::string(ToString(record.status)) + ": " + record.error;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Scanner>> Scanner::Create(const ScannerOptions& options,
                                                 std::vector<uint32_t> addresses,
                                                 OutcomeCallback on_outcome) {
  Result<std::unique_ptr<MinerClient>> client = MinerClient::Create(options.exchange);
  if (!client.ok()) return client.status();
  return std::unique_ptr<Scanner>(
      new Scanner(options, std::move(addresses), std::move(on_outcome), std::move(*client)));
}

Scanner::Scanner(const ScannerOptions& options, std::vector<uint32_t> addresses,
                 OutcomeCallback on_outcome, std::unique_ptr<MinerClient> client)
    : options_(options),
      addresses_(std::move(addresses)),
      on_outcome_(std::move(on_outcome)),
      client_(std::move(client)),
      request_(BuildRequest(kIdentifyCommand)) {}

void Scanner::Begin() {
  next_ = 0;
  active_ = true;
  progress_ = SweepProgress{};
  progress_.total = addresses_.size();
  started_ = Clock::now();
  StartMore();
}

void Scanner::StartMore() {
  while (next_ < addresses_.size() && client_->in_flight() < options_.max_in_flight) {
    const uint32_t address = addresses_[next_++];
    // A refused connect finishes inside Start(); its callback runs at the
    // next Poll(), so this loop never recurses.
    client_->Start(MinerEndpoint{Ipv4ToString(address), options_.port}, request_,
                   [this, address](ExchangeResult&& r) { OnProbed(address, std::move(r)); });
  }
}

void Scanner::OnProbed(uint32_t address, ExchangeResult&& result) {
  ++progress_.done;
  if (!result.connected) return;  // nothing listens there
  ProbeOutcome outcome = Classify(address, options_.port, std::move(result));
  switch (outcome.kind) {
    case ProbeOutcome::Kind::kMiner:
      ++progress_.miners;
      break;
    case ProbeOutcome::Kind::kUnidentified:
      ++progress_.unidentified;
      break;
    case ProbeOutcome::Kind::kForeign:
      ++progress_.foreign;
      break;
  }
  on_outcome_(std::move(outcome));
}

bool Scanner::Poll(std::chrono::milliseconds max_wait) {
  if (!active_) return false;
  client_->Poll(max_wait);
  StartMore();
  // Counted by callbacks, not in_flight(): refused probes finish inside
  // Start() but report at the next Poll().
  if (progress_.done < progress_.total) return false;
  active_ = false;
  finished_ = Clock::now();
  return true;
}

std::chrono::milliseconds Scanner::NextDeadlineIn(std::chrono::milliseconds max_wait) const {
  return active_ ? client_->NextDeadlineIn(max_wait) : max_wait;
}

double Scanner::elapsed_s() const {
  return std::chrono::duration<double>((active_ ? Clock::now() : finished_) - started_).count();
}

}  // namespace asicmon::discover
