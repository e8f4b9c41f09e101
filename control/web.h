// The static side of control's web server: the API's spec (/openapi.json),
// Swagger UI (/docs), and the dashboard (/ and /static/<file>), all from the
// web directory (FindWebDir, service.h). Only files found there at start are
// served, by exact name: no path from a request ever reaches the disk.
// These pages are public like /docs; the dashboard's data comes from the
// read endpoints, which apply CONTROL_AUTH_READ themselves.
//
// Thread-safety: handlers run on Pistache's request threads; nothing here
// changes after construction.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include <pistache/http.h>
#include <pistache/router.h>

#include "metrics.h"
#include "request_pipeline.h"

namespace asicmon::control {

class WebFiles {
 public:
  // `web_dir` "" (not found): every page answers 404 saying so.
  WebFiles(RequestPipeline& pipeline, Metrics& metrics, std::string web_dir);

  using Request = Pistache::Rest::Request;
  using Writer = Pistache::Http::ResponseWriter;

  void OpenApi(const Request& request, Writer response);
  void Dashboard(const Request& request, Writer response);
  void Static(const Request& request, Writer response);
  void Docs(const Request& request, Writer response);

 private:
  // `rebase_links`: the page is served at /docs (no trailing slash), where
  // the package's "./x" and "x" links would resolve to the site root.
  void ServeFile(Writer& response, std::string_view route, const std::string& path,
                 const Pistache::Http::Mime::MediaType& type, bool rebase_links = false);

  RequestPipeline& pipeline_;
  Metrics& metrics_;
  const std::string web_dir_;
  std::set<std::string> swagger_files_;
  std::set<std::string> dashboard_files_;
};

}  // namespace asicmon::control
