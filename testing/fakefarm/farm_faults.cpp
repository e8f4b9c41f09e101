// The farm's API replies with each miner's fault applied (reset, garbage,
// broken, huge, slow), flapping, the scenario's timed changes, and the log
// of privileged commands.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include "asicmon/log.h"
#include "farm_server_internal.h"
#include "miner_web.h"
#include "random.h"
#include "reply_writer.h"
#include "whatsminer_models.h"

namespace asicmon::fakefarm {
namespace {

int64_t StepMs(const ScenarioStep& step) { return std::llround(step.at_s * 1000); }

}  // namespace

void FarmServer::BuildHugeReply() {
  // A stats reply whose STATS object never closes within --huge-bytes: every
  // byte is a valid JSON prefix, so only a size cap stops a client.
  std::string& r = huge_reply_;
  fmt::format_to(std::back_inserter(r),
                 "{{\"STATUS\":[{{\"STATUS\":\"S\",\"When\":{},\"Code\":70,\"Msg\":\"CGMiner "
                 "stats\",\"Description\":\"cgminer 1.0.0\"}}],\"STATS\":[{{\"STATS\":0,\"ID\":"
                 "\"BTM_SOC0\"",
                 static_cast<int64_t>(UnixNow()));
  for (int i = 1; r.size() < options_.huge_bytes; ++i) {
    fmt::format_to(std::back_inserter(r), ",\"chain_acs{}\":\"{}\"", i,
                   " oooooooo oooooooo oooooooo oooooooo oooooooo oooooooo oooooooo ooooooo");
  }
  r.resize(options_.huge_bytes);
}

void FarmServer::Respond(uint32_t slot) {
  Conn& c = conns_[slot];
  if (c.web) {
    RespondWeb(slot);
    return;
  }
  Miner& m = miners_[c.miner];
  const Fault fault = m.plan.fault;
  ++served_[static_cast<size_t>(fault)];
  const std::string_view request(c.in.data(), c.request_end);
  reply_.clear();
  switch (fault) {
    case Fault::kReset:
      CloseConn(slot, true);
      return;
    case Fault::kGarbage: {
      // Bytes that cannot begin any JSON value, so no repair finds one.
      static constexpr std::string_view kAlphabet =
          "!#$%&'()*./;<=>?@ABCDEFGHIJKLMOPQRSUVWXYZ^_`ghijklmopqrsuvwxyz|~";
      const uint64_t length = 200 + SplitMix64(m.rng) % 300;
      for (uint64_t i = 0; i < length; ++i) {
        const uint64_t r = SplitMix64(m.rng);
        reply_.push_back(r & 1 ? static_cast<char>(0x80 | ((r >> 8) & 0x7F))
                               : kAlphabet[(r >> 8) % kAlphabet.size()]);
      }
      break;
    }
    case Fault::kHuge:
      c.pending = huge_reply_;
      StartWriting(slot);
      return;
    default: {
      actions_.clear();
      if (c.v3) {
        m.fake.HandleV3(request.substr(std::min<size_t>(4, request.size())), UnixNow(), reply_,
                        &actions_);
      } else if (c.http) {
        // What the parser refused (a cgminer request on ePIC's port among
        // them) is answered as an HTTP server answers it.
        if (c.web_error != 0) {
          AppendHttpError(reply_, c.web_error);
        } else {
          m.fake.HandleHttp(http_request_.method, http_request_.path, UnixNow(), reply_);
        }
      } else {
        m.fake.Handle(request, UnixNow(), reply_, &actions_);
      }
      if (!actions_.empty()) LogActions(m, c.v3 ? kWhatsminerV3Port : m.plan.port);
      // Down once the answer is under way (closing the listeners leaves this connection).
      switch (m.fake.TakeEffect()) {
        case ApiEffect::kReboot: Reboot(c.miner); break;
        case ApiEffect::kRestart: RestartSoftware(c.miner); break;
        case ApiEffect::kNone: break;
        case ApiEffect::kSilence:
          // Read and forget until the client gives up, as a silent miner does.
          c.state = Conn::State::kSilent;
          return;
      }
      if (fault == Fault::kBroken) reply_.resize(reply_.size() / 2);
      if (fault == Fault::kSlow) {
        // Keep reading meanwhile, so a client that gives up is noticed.
        c.out.assign(reply_.data(), reply_.size());
        c.state = Conn::State::kWaiting;
        AddTimer({MonotonicMs() + options_.slow_ms, Timer::Kind::kSlowReply, slot, c.gen});
        return;
      }
      break;
    }
  }
  c.pending = std::string_view(reply_.data(), reply_.size());
  StartWriting(slot);
}

void FarmServer::Flap(uint32_t index, uint32_t cycle, int64_t now_ms) {
  Miner& m = miners_[index];
  // A scenario switched it to another fault, and brought it up then (or
  // started a new cycle since).
  if (m.plan.fault != Fault::kFlapping || cycle != m.flap_cycle) return;
  if (m.rebooting || m.restarting) {
    // Its reboot or restart decides when it comes back.
  } else if (m.listen_fd >= 0) {
    Unlisten(index);
    spdlog::debug("flapping miner {} down", m.plan.ip_text);
  } else if (Status status = Listen(index); !status.ok()) {
    spdlog::warn("flapping miner {} stays down: {}", m.plan.ip_text, status.message());
  } else {
    spdlog::debug("flapping miner {} up", m.plan.ip_text);
  }
  const auto period_ms = static_cast<int64_t>(std::llround(options_.flap_period_s * 1000));
  AddTimer({now_ms + std::max<int64_t>(1, period_ms), Timer::Kind::kFlap, index, m.flap_cycle});
}

void FarmServer::PlayScenario(int64_t now_ms) {
  const std::vector<ScenarioStep>& steps = options_.scenario;
  for (; scenario_next_ < steps.size(); ++scenario_next_) {
    const ScenarioStep& step = steps[scenario_next_];
    const int64_t due_ms = scenario_start_ms_ + StepMs(step);
    if (due_ms > now_ms) {
      AddTimer({due_ms, Timer::Kind::kScenario, 0, 0});
      return;
    }
    Miner& m = miners_[step.miner];
    if (step.fault) {
      // Exchanges already under way finish under the fault they began with,
      // and are counted under it.
      const Fault before = m.plan.fault;
      m.plan.fault = *step.fault;
      if (before == Fault::kFlapping && m.listen_fd < 0 && !m.rebooting && !m.restarting) {
        if (Status status = Listen(step.miner); !status.ok()) {
          spdlog::warn("scenario: {} stays down: {}", m.plan.ip_text, status.message());
        }
      }
      if (*step.fault == Fault::kHuge && huge_reply_.empty()) BuildHugeReply();
      if (*step.fault == Fault::kFlapping && before != Fault::kFlapping) {
        // Down at once, then up and down every --flap-period-s.
        AddTimer({now_ms, Timer::Kind::kFlap, step.miner, ++m.flap_cycle});
      }
    }
    if (step.temp_offset) m.fake.SetTempOffset(*step.temp_offset);
    if (step.dead_board) m.fake.SetDeadBoard(*step.dead_board);
    if (step.fans_stopped) m.fake.SetFansStopped(*step.fans_stopped);
    if (step.sleeping) m.fake.SetSleeping(*step.sleeping, UnixNow());
    spdlog::info("scenario: {} {}", m.plan.ip_text, Describe(step));
  }
}

void FarmServer::LogActions(const Miner& m, uint16_t port) {
  const double ts = UnixNow();
  for (const PrivilegedAction& a : actions_) {
    spdlog::info("privileged command {} '{}' on {}:{}: {}", SafeForLog(a.command),
                 SafeForLog(a.parameter), m.plan.ip_text, port, ToString(a.result));
    if (!action_log_) continue;
    // By hand, not nlohmann: the command and parameter are logged byte for
    // byte as the client sent them (AppendJsonString), and ts with 6 decimals.
    fmt::memory_buffer line;
    fmt::format_to(fmt::appender(line),
                   "{{\"ts\":{:.6f},\"ip\":\"{}\",\"port\":{},\"command\":", ts, m.plan.ip_text,
                   port);
    AppendJsonString(line, a.command);
    fmt::format_to(fmt::appender(line), ",\"parameter\":");
    AppendJsonString(line, a.parameter);
    fmt::format_to(fmt::appender(line), ",\"result\":\"{}\"}}\n", ToString(a.result));
    std::fwrite(line.data(), 1, line.size(), action_log_);
    std::fflush(action_log_);
  }
}

}  // namespace asicmon::fakefarm
