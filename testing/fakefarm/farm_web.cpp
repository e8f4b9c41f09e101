// The farm's side of each miner's web interface: framing an HTTP request,
// answering it (miner_web.h), and the reboots and mining-software restarts
// a request sets off.
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>

#include "farm_server_internal.h"
#include "miner_web.h"
#include "vnish_models.h"
#include "vnish_web.h"

namespace asicmon::fakefarm {

bool FarmServer::ScanWebRequest(Conn& c) {
  const HttpParseResult parsed = ParseHttpRequest(c.in, http_request_);
  switch (parsed.state) {
    case HttpParseState::kComplete:
      c.request_end = parsed.length;
      return true;
    case HttpParseState::kError:
      c.web_error = parsed.error_status;
      return true;
    case HttpParseState::kNeedBody:
      if (http_request_.expect_continue && !c.continue_sent) {
        // The interim answer fits any fresh socket buffer; were it cut short,
        // the client sends its body after its own wait anyway.
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL);
        c.continue_sent = true;
      }
      return false;
    case HttpParseState::kNeedHeaders:
      return false;
  }
  return false;
}

void FarmServer::RespondWeb(uint32_t slot) {
  Conn& c = conns_[slot];
  const uint32_t miner = c.miner;
  Miner& m = miners_[miner];
  ++web_requests_;
  reply_.clear();
  WebEffect effect = WebEffect::kNone;
  if (c.web_error != 0) {
    AppendHttpError(reply_, c.web_error);
  } else {
    actions_.clear();
    effect = VnishFactsOf(m.plan.spec.model) != nullptr
                 ? HandleVnishWebRequest(http_request_, m.fake, m.plan.ip_text, UnixNow(), reply_,
                                         actions_)
                 : HandleWebRequest(http_request_, *web_auth_, m.fake, m.plan.ip_text, UnixNow(),
                                    reply_, actions_);
    if (!actions_.empty()) LogActions(m, m.plan.http_port);
  }
  // Down before the client can read the answer and try again; closing the
  // listeners leaves this accepted connection alone.
  if (effect == WebEffect::kReboot) Reboot(miner);
  if (effect == WebEffect::kRestart) RestartSoftware(miner);
  if (options_.conf_write_s > 0 && c.web_error == 0 && !actions_.empty() &&
      http_request_.path == "/cgi-bin/set_miner_conf.cgi") {
    // The firmware's script answers once it has rewritten the config and
    // restarted the miner (the web server's Digest challenge comes before
    // the script, at once): the same wait as a slow API reply.
    c.out.assign(reply_.data(), reply_.size());
    c.state = Conn::State::kWaiting;
    AddTimer({MonotonicMs() + std::llround(options_.conf_write_s * 1000), Timer::Kind::kSlowReply,
              slot, c.gen});
    return;
  }
  c.pending = std::string_view(reply_.data(), reply_.size());
  StartWriting(slot);
}

void FarmServer::Reboot(uint32_t index) {
  Miner& m = miners_[index];
  if (m.rebooting) return;
  m.rebooting = true;
  Unlisten(index);
  const auto down_ms = static_cast<int64_t>(std::llround(options_.reboot_s * 1000));
  AddTimer({MonotonicMs() + down_ms, Timer::Kind::kRebootDone, index, 0});
  spdlog::info("miner {} rebooting: down for {} s", m.plan.ip_text, options_.reboot_s);
}

void FarmServer::FinishReboot(uint32_t index) {
  Miner& m = miners_[index];
  m.rebooting = false;
  m.restarting = false;  // the reboot restarted everything
  m.fake.Restart(UnixNow());
  if (m.listen_fd >= 0) return;
  if (Status status = Listen(index); !status.ok()) {
    spdlog::warn("miner {} stays down after its reboot: {}", m.plan.ip_text, status.message());
  } else {
    spdlog::info("miner {} is back from its reboot", m.plan.ip_text);
  }
}

void FarmServer::RestartSoftware(uint32_t index) {
  Miner& m = miners_[index];
  // Down already: it comes back with the configuration just applied.
  if (m.rebooting || m.restarting) return;
  m.restarting = true;
  if (m.listen_fd >= 0) close(m.listen_fd);
  m.listen_fd = -1;
  const auto down_ms = static_cast<int64_t>(std::llround(options_.restart_s * 1000));
  AddTimer({MonotonicMs() + down_ms, Timer::Kind::kRestartDone, index, 0});
  spdlog::info("miner {} restarting its mining software: API down for {} s", m.plan.ip_text,
               options_.restart_s);
}

void FarmServer::FinishRestart(uint32_t index) {
  Miner& m = miners_[index];
  if (!m.restarting) return;
  m.restarting = false;
  if (m.rebooting) return;  // its reboot decides when it comes back
  m.fake.Restart(UnixNow());
  if (Status status = Listen(index); !status.ok()) {
    spdlog::warn("miner {} stays down after its restart: {}", m.plan.ip_text, status.message());
  } else {
    spdlog::info("miner {} is back from its restart", m.plan.ip_text);
  }
}

}  // namespace asicmon::fakefarm
