#include "web.h"

#include <filesystem>
#include <fstream>

#include "service.h"

namespace asicmon::control {
namespace {

using namespace Pistache;

Http::Mime::MediaType MediaTypeOf(const std::string& file_name) {
  const std::string ext = std::filesystem::path(file_name).extension().string();
  return ext == ".html"  ? MIME(Text, Html)
         : ext == ".css" ? MIME(Text, Css)
         : ext == ".js"  ? MIME(Application, Javascript)
         : ext == ".png" ? MIME(Image, Png)
                         : MIME(Application, OctetStream);
}

// The names of the regular files in `dir`; empty when it is missing.
std::set<std::string> FilesIn(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) names.insert(entry.path().filename().string());
  }
  return names;
}

}  // namespace

WebFiles::WebFiles(RequestPipeline& pipeline, Metrics& metrics, std::string web_dir)
    : pipeline_(pipeline), metrics_(metrics), web_dir_(std::move(web_dir)) {
  if (web_dir_.empty()) return;
  swagger_files_ = FilesIn(web_dir_ + "/swagger-ui");
  dashboard_files_ = FilesIn(web_dir_ + "/dashboard");
}

void WebFiles::OpenApi(const Request&, Writer response) {
  ServeFile(response, "openapi", web_dir_ + "/openapi.json", MIME(Application, Json));
}

void WebFiles::Dashboard(const Request&, Writer response) {
  ServeFile(response, "dashboard", web_dir_ + "/dashboard/index.html", MIME(Text, Html));
}

void WebFiles::Static(const Request& request, Writer response) {
  const std::string name = PathParam(request, ":file");
  if (!dashboard_files_.contains(name)) {
    return pipeline_.Error(response, "static", 404, "not found",
                           dashboard_files_.empty()
                               ? "the dashboard is not installed (set ASICMON_WEB_DIR)"
                               : "no such file under /static");
  }
  ServeFile(response, "static", web_dir_ + "/dashboard/" + name, MediaTypeOf(name));
}

void WebFiles::Docs(const Request& request, Writer response) {
  std::string name = request.hasParam(":file") ? PathParam(request, ":file") : "index.html";
  if (name == "swagger-initializer.js") {
    // Points the UI at our spec instead of the package's demo.
    response.headers().add<Http::Header::ContentType>(MIME(Application, Javascript));
    metrics_.CountRequest("docs", 200);
    response.send(Http::Code::Ok,
                  "window.onload = function () {\n"
                  "  window.ui = SwaggerUIBundle({url: '/openapi.json', dom_id: '#swagger-ui'});\n"
                  "};\n");
    return;
  }
  if (!swagger_files_.contains(name)) {
    return pipeline_.Error(response, "docs", 404, "not found",
                           swagger_files_.empty()
                               ? "Swagger UI is not installed: run scripts/deps.sh (npm "
                                 "swagger-ui-dist) or set ASICMON_WEB_DIR"
                               : "no such file under /docs");
  }
  ServeFile(response, "docs", web_dir_ + "/swagger-ui/" + name, MediaTypeOf(name),
            name == "index.html");
}

void WebFiles::ServeFile(Writer& response, std::string_view route, const std::string& path,
                         const Http::Mime::MediaType& type, bool rebase_links) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return pipeline_.Error(response, route, 404, "not found",
                           "web assets are missing (" + path + "); set ASICMON_WEB_DIR");
  }
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (rebase_links) {
    for (const std::string attr : {"href=\"", "src=\""}) {
      for (size_t at = body.find(attr); at != std::string::npos; at = body.find(attr, at + 1)) {
        const size_t value = at + attr.size();
        if (body.compare(value, 2, "./") == 0) body.erase(value, 2);
        if (body.compare(value, 1, "/") != 0 && body.compare(value, 4, "http") != 0) {
          body.insert(value, "/docs/");
        }
      }
    }
  }
  metrics_.CountRequest(route, 200);
  response.headers().add<Http::Header::ContentType>(type);
  response.send(Http::Code::Ok, body);
}

std::string FindWebDir(const std::string& configured) {
  namespace fs = std::filesystem;
  auto has_spec = [](const fs::path& dir) { return fs::exists(dir / "openapi.json"); };
  if (!configured.empty()) return has_spec(configured) ? configured : "";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "";
  // build/bin/asicmon-control -> build/share/asicmon/web; /usr/bin -> /usr/share/asicmon/web
  for (const fs::path& dir : {exe.parent_path() / "share/asicmon/web",
                              exe.parent_path().parent_path() / "share/asicmon/web"}) {
    if (has_spec(dir)) return dir.string();
  }
  return "";
}

}  // namespace asicmon::control
