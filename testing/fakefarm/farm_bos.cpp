// The farm's side of the Braiins OS public API (bos_grpc.h): which miners
// serve it, and what its calls may do to them on the farm's thread.
#include <arpa/inet.h>

#include "bos_grpc.h"
#include "braiins_models.h"
#include "farm_server_internal.h"

namespace asicmon::fakefarm {

struct FarmServer::BosAdapter final : BosMiner {
  BosAdapter(FarmServer& farm, uint32_t index) : farm_(farm), index_(index) {}
  FakeMiner& fake() override { return farm_.miners_[index_].fake; }
  void Reboot() override { farm_.Reboot(index_); }
  void RestartSoftware() override { farm_.RestartSoftware(index_); }
  void Log(std::string command, std::string parameter, ActionResult result) override {
    farm_.actions_.clear();
    farm_.actions_.push_back({std::move(command), std::move(parameter), result});
    farm_.LogActions(farm_.miners_[index_], farm_.options_.bos_grpc_port);
    farm_.actions_.clear();
  }

 private:
  FarmServer& farm_;
  uint32_t index_;
};

Status FarmServer::StartBos() {
  if (options_.bos_grpc_port == 0) return Status::Ok();
  std::vector<std::string> ips;
  for (const Miner& m : miners_) {
    if (BraiinsFactsOf(m.plan.spec.model) != nullptr) ips.push_back(m.plan.ip_text);
  }
  if (ips.empty()) return Status::Ok();
  auto started =
      BosGrpcServer::Start(ips, options_.bos_grpc_port, options_.http_user, options_.http_password);
  if (!started.ok()) return started.status();
  bos_ = std::move(*started);
  return Status::Ok();
}

void FarmServer::DrainBos() {
  bos_->Drain([this](std::string_view ip, const std::function<void(BosMiner&)>& body) {
    in_addr addr{};
    if (ip.size() >= INET_ADDRSTRLEN || inet_pton(AF_INET, std::string(ip).c_str(), &addr) != 1) {
      return false;
    }
    const uint32_t host = ntohl(addr.s_addr);
    for (uint32_t i = 0; i < miners_.size(); ++i) {
      Miner& m = miners_[i];
      if (m.plan.ip != host) continue;
      // Rebooting, or flapped off the network: down for gRPC too.
      if (m.rebooting || (m.listen_fd < 0 && !m.restarting) ||
          BraiinsFactsOf(m.plan.spec.model) == nullptr) {
        return false;
      }
      BosAdapter adapter(*this, i);
      body(adapter);
      return true;
    }
    return false;
  });
}

}  // namespace asicmon::fakefarm
