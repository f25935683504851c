// Firmware routes: the repository behind /api/v1/firmware, the downloads behind /ota/.
#include "server/http/firmware_api.hpp"

#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>

#include "protocols/http/range.hpp"
#include "server/core/platform.hpp"
#include "server/ota/download_faults.hpp"
#include "server/ota/downloads.hpp"
#include "server/ota/firmware_repository.hpp"

namespace fc::server::http {
namespace {

using nlohmann::json;

ApiResponse fail(const ota::OtaError& e) { return errorResponse(e.status, e.code, e.message); }
ApiResponse ok(int status, const json& j) {
  return jsonResponse(status, j.dump(-1, ' ', false, json::error_handler_t::replace));
}

json firmwareJson(const ota::Firmware& f, const OtaUrls& urls) {
  auto j = ota::toJson(f);
  j["urls"] = {{"http", urls.http + firmwarePath(f.id)},
               {"https", urls.https + firmwarePath(f.id)},
               {"coap", urls.coap + coapFirmwarePath(urls, f.id)},
               {"coaps", urls.coaps + coapFirmwarePath(urls, f.id)}};
  return j;
}

bool isHex(const std::string& s, std::size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c); });
}

/// The upload's description from the JSON body (generate) or the query (raw upload); a 4xx when
/// something is missing or wrong.
Expected<ota::FirmwareSpec, ApiResponse> specOf(const ApiRequest& r, const json& body, const core::Platform& platform) {
  const auto field = [&](const char* name) -> std::optional<std::string> {
    if (body.is_object() && body.contains(name) && body[name].is_string()) return body[name].get<std::string>();
    return r.queryParam(name);
  };
  ota::FirmwareSpec spec;
  for (auto [name, target] :
       {std::pair{"productId", &spec.productId}, std::pair{"version", &spec.version}, std::pair{"name", &spec.name}}) {
    auto v = field(name);
    if (!v || v->empty())
      return Unexpected(
          errorResponse(400, "invalid", std::string(name) + ": required (a query parameter of the upload)"));
    *target = *v;
  }
  spec.module = field("module").value_or("");
  spec.md5 = field("md5");
  spec.sha256 = field("sha256");
  if (spec.md5 && !isHex(*spec.md5, 32)) return Unexpected(errorResponse(400, "invalid", "md5: 32 hex digits"));
  if (spec.sha256 && !isHex(*spec.sha256, 64))
    return Unexpected(errorResponse(400, "invalid", "sha256: 64 hex digits"));
  if (!platform.product(spec.productId))
    return Unexpected(errorResponse(422, "invalid", "no product '" + spec.productId + "' for the firmware"));
  return spec;
}

bool isJson(const ApiRequest& r) {
  const auto it = r.headers.find("content-type");
  return it != r.headers.end() && it->second.rfind("application/json", 0) == 0;
}

/// A raw upload's body, into the repository as it arrives.
class UploadToRepository final : public UploadSink {
 public:
  UploadToRepository(std::unique_ptr<ota::FirmwareUpload> upload, std::shared_ptr<const OtaUrls> urls)
      : upload_(std::move(upload)), urls_(std::move(urls)) {}

  std::optional<ApiResponse> write(std::span<const std::uint8_t> bytes) override {
    if (auto e = upload_->write(bytes)) return fail(*e);
    return std::nullopt;
  }
  void finish(std::function<void(ApiResponse)> respond) override {
    upload_->finish([respond = std::move(respond), urls = urls_](Expected<ota::Firmware, ota::OtaError> r) {
      respond(r ? ok(201, firmwareJson(*r, *urls)) : fail(r.error()));
    });
  }
  void abort() override { upload_->abort(); }

 private:
  std::unique_ptr<ota::FirmwareUpload> upload_;
  std::shared_ptr<const OtaUrls> urls_;
};

/// `length` bytes of an image from `offset`, read with pread as the listener writes them; tells
/// `done` how far it got.
class FileBody final : public BodySource {
 public:
  FileBody(int fd, std::uint64_t offset, std::uint64_t length, std::function<void(std::uint64_t, bool)> done)
      : fd_(fd), offset_(offset), length_(length), done_(std::move(done)) {}
  ~FileBody() override { ::close(fd_); }

  std::uint64_t size() const override { return length_; }
  Piece read(std::span<std::uint8_t> buffer) override {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length_ - pos_));
    ssize_t n;
    do n = ::pread(fd_, buffer.data(), want, static_cast<off_t>(offset_ + pos_));
    while (n < 0 && errno == EINTR);
    if (n <= 0) return {};
    pos_ += static_cast<std::uint64_t>(n);
    return {static_cast<std::size_t>(n)};
  }
  void finished(std::uint64_t sent, bool complete) override {
    if (done_) done_(sent, complete);
    done_ = nullptr;
  }

 private:
  int fd_;
  std::uint64_t offset_, length_, pos_ = 0;
  std::function<void(std::uint64_t, bool)> done_;
};

/// A body with download faults (docs/ota.md, "Download faults"): the file's bytes as planBytes
/// decides — a byte flipped, the body ended early (truncateAt, dropConnectionAt: the connection is
/// closed, Content-Length stays the full one), held forever (stallAfter: the connection stays open),
/// pieces delayed on the session's timer (throttleBytesPerSec).
class FaultyBody final : public BodySource {
 public:
  // A stalled body asks again this often; the session's timer, not a thread, waits.
  static constexpr std::chrono::seconds kStallRecheck{10};

  FaultyBody(std::shared_ptr<BodySource> inner, std::uint64_t first, ota::DownloadFaults faults)
      : inner_(std::move(inner)), first_(first), faults_(std::move(faults)) {}

  std::uint64_t size() const override { return inner_->size(); }
  Piece read(std::span<std::uint8_t> buffer) override {
    if (stalled_) return {0, kStallRecheck, false};
    std::size_t want = buffer.size();
    // Throttled pieces are about a tenth of a second's worth, so the rate is smooth.
    if (faults_.throttleBytesPerSec)
      want = std::min<std::size_t>(want, std::max<std::uint64_t>(1, *faults_.throttleBytesPerSec / 10));
    const auto a = first_ + pos_;
    const auto plan = ota::planBytes(faults_, first_, a, a + want);
    Piece p;
    if (plan.send > 0) {
      p = inner_->read(buffer.first(static_cast<std::size_t>(plan.send)));
      if (p.bytes == 0) return p;  // the file failed
      ota::BytePlan got = plan;
      if (got.corruptOffset && *got.corruptOffset >= a + p.bytes) got.corruptOffset.reset();
      ota::applyCorruption(got, a, buffer.data());
      pos_ += p.bytes;
      p.delay = std::chrono::milliseconds(ota::throttleDelayMs(faults_, p.bytes));
      if (p.bytes < plan.send) return p;  // the rest of the plan next time
    }
    using Stop = ota::BytePlan::Stop;
    switch (plan.stop) {
      case Stop::None:
        break;
      case Stop::Truncate:
      case Stop::Drop:
        p.close = true;
        break;
      case Stop::Stall:
        stalled_ = true;
        if (p.bytes == 0) p.delay = kStallRecheck;
        break;
    }
    return p;
  }
  void finished(std::uint64_t sent, bool complete) override { inner_->finished(sent, complete); }

 private:
  std::shared_ptr<BodySource> inner_;
  std::uint64_t first_;
  ota::DownloadFaults faults_;
  std::uint64_t pos_ = 0;
  bool stalled_ = false;
};

std::string header(const ApiRequest& r, const char* name) {
  const auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string{} : it->second;
}

/// GET or HEAD of a firmware's bytes for `who` (an offer's device and job, or anonymous), with the
/// download faults in force.
ApiResponse serve(const FirmwareApi& api, const ApiRequest& r, const ota::Firmware& f, const ota::DownloadKey& who,
                  const ota::DownloadFaults& faults) {
  const bool head = r.method == "HEAD";
  const auto transport = r.tls ? "https" : "http";
  const std::string faultNote = faults.empty() ? "" : " [faults: " + ota::describe(faults) + "]";
  const auto journal = [&api, who, transport, path = r.path, raw = wireBytes(r), faultNote](std::string summary) {
    if (!who.deviceId.empty())
      api.platform.journal(who.deviceId, "in", transport, path, raw, std::move(summary) + faultNote);
  };
  if (faults.failWith) {
    const int status = faults.failWith->http;
    api.ledger->record(who, {});
    journal(r.method + " firmware " + f.id + " → " + std::to_string(status) + " (failWith)");
    return errorResponse(status, "download_fault", "download fault: failWith " + std::to_string(status));
  }
  const int fd = api.repository->openImage(f);
  if (fd < 0) {
    journal(r.method + " firmware " + f.id + " → 404 (its file is missing)");
    return errorResponse(404, "not_found", "the image of firmware '" + f.id + "' is missing from the repository");
  }
  const auto lastModified = std::chrono::duration_cast<std::chrono::seconds>(f.createdAt.time_since_epoch()).count();
  const auto decision = fc::http::decideRange(header(r, "range"), header(r, "if-range"), f.size,
                                              {f.etag(), static_cast<std::int64_t>(lastModified)});
  std::vector<std::pair<std::string, std::string>> headers = {
      {"ETag", f.etag()}, {"Last-Modified", fc::http::formatHttpDate(lastModified)}, {"Accept-Ranges", "bytes"}};
  const std::string rangeText = header(r, "range").empty() ? "" : " " + header(r, "range");
  using Kind = fc::http::RangeDecision::Kind;
  if (decision.kind == Kind::Unsatisfiable) {
    ::close(fd);
    api.ledger->record(who, {});
    journal(r.method + " firmware " + f.id + rangeText + " → 416 (the image has " + std::to_string(f.size) + " bytes)");
    auto res =
        errorResponse(416, "range_not_satisfiable",
                      "the range " + header(r, "range") + " selects nothing of " + std::to_string(f.size) + " bytes");
    headers.emplace_back("Content-Range", "bytes */" + std::to_string(f.size));
    res.headers = std::move(headers);
    return res;
  }
  const bool partial = decision.kind == Kind::Partial;
  const auto first = partial ? decision.range.first : 0;
  const auto length = partial ? decision.range.length() : f.size;
  const int status = partial ? 206 : 200;
  if (partial)
    headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(decision.range.last) +
                                              "/" + std::to_string(f.size));
  const std::string what = r.method + " firmware " + f.id + rangeText + " → " + std::to_string(status);
  std::function<void(std::uint64_t, bool)> done;
  if (head) {
    api.ledger->record(who, {0, partial, partial && first > 0, false});
    journal(what + " (" + std::to_string(length) + " bytes, headers only)");
  } else {
    done = [ledger = api.ledger, who, journal, what, partial, first, reachesEnd = first + length == f.size, length](
               std::uint64_t sent, bool complete) {
      ledger->record(who, {sent, partial, partial && first > 0, complete && reachesEnd});
      journal(what + ", " + std::to_string(sent) + " of " + std::to_string(length) + " bytes sent" +
              (complete ? "" : " (the connection ended first)"));
    };
  }
  ApiResponse res{status, "application/octet-stream", {}, std::move(headers)};
  res.stream = std::make_shared<FileBody>(fd, first, length, std::move(done));
  if (!faults.empty()) res.stream = std::make_shared<FaultyBody>(std::move(res.stream), first, faults);
  return res;
}

json statsJson(const ota::DownloadKey& key, const ota::DownloadStats& s) {
  return {{"deviceId", key.deviceId.empty() ? json(nullptr) : json(key.deviceId)},
          {"jobId", key.jobId.empty() ? json(nullptr) : json(key.jobId)},
          {"requests", s.requests},
          {"bytesServed", s.bytesServed},
          {"ranges", s.ranges},
          {"resumed", s.resumed},
          {"completed", s.completed}};
}

}  // namespace

std::string firmwarePath(const std::string& firmwareId) { return "/ota/firmware/" + firmwareId; }
std::string offerPath(const std::string& token) { return "/ota/o/" + token; }
std::string coapFirmwarePath(const OtaUrls& urls, const std::string& firmwareId) {
  return "/" + urls.coapPath + "/" + firmwareId;
}
std::string coapOfferPath(const OtaUrls& urls, const std::string& token) { return "/" + urls.coapPath + "/o/" + token; }
std::string coapOfferUrl(const OtaUrls& urls, const std::string& token, bool secure) {
  return (secure ? urls.coaps : urls.coap) + coapOfferPath(urls, token);
}

void addFirmwareRoutes(Router& router, FirmwareApi api) {
  // A raw body streams into the repository; a JSON body ({"generate": …}) is read whole.
  router.addUpload("POST", "/api/v1/firmware", [api](const ApiRequest& r) -> UploadStart {
    if (isJson(r)) return {};
    auto spec = specOf(r, json(), api.platform);
    if (!spec) return {std::move(spec.error()), nullptr};
    std::optional<std::uint64_t> declared;
    if (const auto it = r.headers.find("content-length"); it != r.headers.end()) {
      try {
        declared = std::stoull(it->second);
      } catch (const std::exception&) {
      }
    }
    auto upload = api.repository->beginUpload(std::move(*spec), declared);
    if (!upload) return {fail(upload.error()), nullptr};
    return {std::nullopt, std::make_shared<UploadToRepository>(std::move(*upload), api.urls)};
  });
  router.addAsync("POST", "/api/v1/firmware", [api](ApiRequest r, Respond respond) {
    const auto body = json::parse(r.body, nullptr, false);
    if (!isJson(r) || body.is_discarded() || !body.is_object() || !body.contains("generate"))
      return respond(errorResponse(400, "invalid",
                                   "send the image as the request body (any type but application/json) with "
                                   "?productId=&version=&name=, or JSON {\"productId\",\"version\",\"name\","
                                   "\"generate\":{\"size\",\"seed\"}}"));
    const auto& g = body["generate"];
    if (!g.is_object() || !g.contains("size") || !g["size"].is_number_unsigned() ||
        (g.contains("seed") && !g["seed"].is_number_unsigned()))
      return respond(errorResponse(400, "invalid", "generate: {\"size\": bytes > 0, \"seed\": unsigned integer}"));
    auto spec = specOf(r, body, api.platform);
    if (!spec) return respond(std::move(spec.error()));
    api.repository->generate(std::move(*spec), g["size"].get<std::uint64_t>(), g.value("seed", std::uint64_t{0}),
                             [respond, urls = api.urls](Expected<ota::Firmware, ota::OtaError> f) {
                               respond(f ? ok(201, firmwareJson(*f, *urls)) : fail(f.error()));
                             });
  });
  router.add("GET", "/api/v1/firmware", [api](const ApiRequest& r) {
    json items = json::array();
    for (const auto& f : api.repository->list(r.queryParam("productId"))) items.push_back(firmwareJson(f, *api.urls));
    return ok(200, {{"items", items}, {"total", items.size()}});
  });
  router.add("GET", "/api/v1/firmware/{id}", [api](const ApiRequest& r) {
    const auto f = api.repository->get(r.params.at("id"));
    return f ? ok(200, firmwareJson(*f, *api.urls))
             : errorResponse(404, "not_found", "no firmware '" + r.params.at("id") + "'");
  });
  router.add("DELETE", "/api/v1/firmware/{id}", [api](const ApiRequest& r) {
    auto f = api.repository->remove(r.params.at("id"));
    if (!f) return fail(f.error());
    api.ledger->forgetFirmware(f->id);
    return ok(200, firmwareJson(*f, *api.urls));
  });
  router.add("POST", "/api/v1/firmware/{id}/offers", [api](const ApiRequest& r) {
    const auto f = api.repository->get(r.params.at("id"));
    if (!f) return errorResponse(404, "not_found", "no firmware '" + r.params.at("id") + "'");
    const auto body = json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("deviceId") || !body["deviceId"].is_string() ||
        (body.contains("jobId") && !body["jobId"].is_string()))
      return errorResponse(400, "invalid",
                           "body: {\"deviceId\": string, \"jobId\": optional string, \"faults\": optional object}");
    ota::DownloadFaults faults;
    if (body.contains("faults")) {
      auto parsed = ota::parseFaults(body["faults"]);
      if (!parsed) return errorResponse(400, "invalid", "faults: " + parsed.error());
      faults = std::move(*parsed);
    }
    const auto device = api.platform.device(body["deviceId"].get<std::string>());
    if (!device) return errorResponse(404, "not_found", "no device '" + body["deviceId"].get<std::string>() + "'");
    if (device->productId != f->productId)
      return errorResponse(422, "invalid",
                           "device '" + device->id + "' is of product '" + device->productId + "', the firmware of '" +
                               f->productId + "'");
    const auto offer = api.ledger->issue(f->id, device->id, body.value("jobId", std::string{}), std::move(faults));
    return ok(201, {{"token", offer.token},
                    {"firmwareId", offer.firmwareId},
                    {"deviceId", offer.deviceId},
                    {"jobId", offer.jobId.empty() ? json(nullptr) : json(offer.jobId)},
                    {"faults", ota::toJson(offer.faults)},
                    {"urls",
                     {{"http", api.urls->http + offerPath(offer.token)},
                      {"https", api.urls->https + offerPath(offer.token)},
                      {"coap", coapOfferUrl(*api.urls, offer.token, false)},
                      {"coaps", coapOfferUrl(*api.urls, offer.token, true)}}}});
  });
  // A firmware's download faults: for anonymous downloads and for offers without faults of their own.
  router.add("GET", "/api/v1/firmware/{id}/faults", [api](const ApiRequest& r) {
    const auto f = api.repository->get(r.params.at("id"));
    if (!f) return errorResponse(404, "not_found", "no firmware '" + r.params.at("id") + "'");
    return ok(200, ota::toJson(api.ledger->faults(f->id)));
  });
  router.add("PUT", "/api/v1/firmware/{id}/faults", [api](const ApiRequest& r) {
    const auto f = api.repository->get(r.params.at("id"));
    if (!f) return errorResponse(404, "not_found", "no firmware '" + r.params.at("id") + "'");
    const auto body = json::parse(r.body, nullptr, false);
    auto faults = ota::parseFaults(body.is_discarded() ? json() : body);
    if (!faults) return errorResponse(400, "invalid", "faults: " + faults.error());
    api.ledger->setFaults(f->id, *faults);
    return ok(200, ota::toJson(*faults));
  });
  router.add("DELETE", "/api/v1/firmware/{id}/faults", [api](const ApiRequest& r) {
    const auto f = api.repository->get(r.params.at("id"));
    if (!f) return errorResponse(404, "not_found", "no firmware '" + r.params.at("id") + "'");
    api.ledger->setFaults(f->id, {});
    return ok(200, json::object());
  });
  router.add("GET", "/api/v1/firmware/{id}/downloads", [api](const ApiRequest& r) {
    const auto f = api.repository->get(r.params.at("id"));
    if (!f) return errorResponse(404, "not_found", "no firmware '" + r.params.at("id") + "'");
    json items = json::array();
    for (const auto& [key, s] : api.ledger->forFirmware(f->id)) items.push_back(statsJson(key, s));
    return ok(200, {{"firmwareId", f->id}, {"items", items}});
  });
  // Device-facing downloads (GET and HEAD: the router sends HEAD to the GET handler).
  router.add("GET", "/ota/firmware/{id}", [api](const ApiRequest& r) {
    const auto f = api.repository->get(r.params.at("id"));
    if (!f) return errorResponse(404, "not_found", "no firmware '" + r.params.at("id") + "'");
    return serve(api, r, *f, {"", "", f->id}, api.ledger->faultsFor(f->id, nullptr));
  });
  router.add("GET", "/ota/o/{token}", [api](const ApiRequest& r) {
    const auto offer = api.ledger->offer(r.params.at("token"));
    if (!offer) return errorResponse(404, "not_found", "no download offer '" + r.params.at("token") + "'");
    const auto f = api.repository->get(offer->firmwareId);
    if (!f) return errorResponse(404, "not_found", "the firmware of this offer was deleted");
    return serve(api, r, *f, {offer->deviceId, offer->jobId, f->id}, api.ledger->faultsFor(f->id, &*offer));
  });
}

OpenApiFragment firmwareOpenApi() {
  using namespace openapi;
  OpenApiFragment out;
  out.operations = {
      {"POST",
       "/api/v1/firmware",
       "Upload a firmware image as the raw body (?productId=&version=&name=, optional module, md5, sha256), or "
       "JSON {productId, version, name, generate: {size, seed}} for deterministic test bytes; 201 once durable",
       "FirmwareInput",
       "Firmware",
       {201, 400, 413, 422},
       {"productId", "version", "name", "module", "md5", "sha256"}},
      {"GET", "/api/v1/firmware", "List firmware, oldest first", nullptr, "FirmwareList", {200}, {"productId"}},
      {"GET", "/api/v1/firmware/{id}", "One firmware", nullptr, "Firmware", {200, 404}},
      {"DELETE",
       "/api/v1/firmware/{id}",
       "Delete a firmware and its image (409 while a job uses it)",
       nullptr,
       "Firmware",
       {200, 404, 409}},
      {"POST",
       "/api/v1/firmware/{id}/offers",
       "A download URL for one device (and job): its downloads count and show in the device's journal",
       "OfferInput",
       "Offer",
       {201, 400, 404, 422}},
      {"GET", "/api/v1/firmware/{id}/faults", "The firmware's download faults ({} when none)", nullptr,
       "DownloadFaults", {200, 404}},
      {"PUT",
       "/api/v1/firmware/{id}/faults",
       "Set the firmware's download faults (HTTP(S) and CoAP; an offer's own faults win); {} clears them",
       "DownloadFaults",
       "DownloadFaults",
       {200, 400, 404}},
      {"DELETE", "/api/v1/firmware/{id}/faults", "Clear the firmware's download faults", nullptr, "DownloadFaults",
       {200, 404}},
      {"GET",
       "/api/v1/firmware/{id}/downloads",
       "Download counts per device and job",
       nullptr,
       "DownloadList",
       {200, 404}},
      {"GET",
       "/ota/firmware/{id}",
       "The image (anonymous download): Range (one range; 206, 416), If-Range, HEAD; application/octet-stream",
       nullptr,
       nullptr,
       {200, 206, 404, 416}},
      {"GET",
       "/ota/o/{token}",
       "The image through a download offer (counted for its device and job)",
       nullptr,
       nullptr,
       {200, 206, 404, 416}},
  };
  const json urls = object({{"http", str()}, {"https", str()}, {"coap", str()}, {"coaps", str()}});
  out.schemas = {
      {"Firmware", object({{"id", str()},
                           {"productId", str()},
                           {"version", str()},
                           {"name", str()},
                           {"module", str()},
                           {"size", integer()},
                           {"md5", str()},
                           {"sha1", str()},
                           {"sha256", str()},
                           {"createdAt", str()},
                           {"urls", urls}})},
      {"FirmwareInput", object({{"productId", str()},
                                {"version", str()},
                                {"name", str()},
                                {"module", str()},
                                {"md5", str()},
                                {"sha256", str()},
                                {"generate", object({{"size", integer()}, {"seed", integer()}}, {"size"})}},
                               {"productId", "version", "name", "generate"})},
      {"FirmwareList", object({{"items", arrayOf("Firmware")}, {"total", integer()}})},
      {"DownloadFaults", object({{"corruptAt", integer()},
                                 {"truncateAt", integer()},
                                 {"stallAfter", integer()},
                                 {"throttleBytesPerSec", integer()},
                                 {"failWith", json{{"description", "HTTP status 400-599 or CoAP code \"4.04\""}}},
                                 {"dropConnectionAt", integer()}})},
      {"OfferInput", object({{"deviceId", str()}, {"jobId", str()}, {"faults", ref("DownloadFaults")}}, {"deviceId"})},
      {"Offer", object({{"token", str()},
                        {"firmwareId", str()},
                        {"deviceId", str()},
                        {"jobId", str()},
                        {"faults", ref("DownloadFaults")},
                        {"urls", urls}})},
      {"DownloadStats", object({{"deviceId", str()},
                                {"jobId", str()},
                                {"requests", integer()},
                                {"bytesServed", integer()},
                                {"ranges", integer()},
                                {"resumed", integer()},
                                {"completed", integer()}})},
      {"DownloadList", object({{"firmwareId", str()}, {"items", arrayOf("DownloadStats")}})},
  };
  return out;
}

}  // namespace fc::server::http
