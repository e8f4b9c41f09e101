// asicmon-keygen: makes a CurveZMQ keypair for the bus, "<name>.key" (both
// keys, mode 0600, stays on its host) and "<name>.pub" (the public key, to
// copy to the peers that must recognise this host). Prints the public key.
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "asicmon/bus_security.h"
#include "asicmon/log.h"
#include "asicmon/settings.h"
#include "asicmon/stage.h"

int main(int argc, char** argv) {
  std::string name;
  std::string dir = ".";
  asicmon::StageFlags stage;
  CLI::App app{
      "asicmon-keygen: write a CurveZMQ keypair for the bus as <dir>/<name>.key (secret, "
      "mode 0600) and <dir>/<name>.pub (public). Existing files are never overwritten."};
  app.add_option("name", name, "Key name, e.g. the host's name")
      ->required()
      ->check([](const std::string& n) {
        return n.empty() || n.front() == '.' || n.find('/') != std::string::npos
                   ? std::string("a plain file name (no '/', not starting with '.')")
                   : std::string();
      });
  app.add_option("--dir", dir, "Directory to write the two files in (created when missing)")
      ->capture_default_str();
  asicmon::SettingsTable settings(app);
  asicmon::AddStageSettings(settings, stage, /*with_stats=*/false);
  app.footer(
      "Then: ASICMON_CURVE_KEY=<name>.key on this host; <name>.pub in the central host's "
      "ASICMON_CURVE_AUTHORIZED directory (a client) or as ASICMON_CURVE_SERVER on every "
      "other host (the central host).");
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "keygen", stage, settings.env_status())) {
    return *exit_code;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    spdlog::error("cannot create {}: {}", dir, ec.message());
    return 1;
  }
  asicmon::Result<asicmon::bus::CurveKeypair> keypair = asicmon::bus::GenerateCurveKeypair();
  if (!keypair.ok()) {
    spdlog::error("{}", keypair.status().ToString());
    return 1;
  }
  const std::filesystem::path stem = std::filesystem::path(dir) / name;
  if (asicmon::Status s = asicmon::bus::WriteCurveKeypair(*keypair, stem); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("wrote {}.key (secret, mode 0600) and {}.pub", stem.string(), stem.string());
  std::printf("%s\n", keypair->public_key.c_str());
  return 0;
}
