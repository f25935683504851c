// Start-up order: storage (migrate, load broker state) → listeners → ports file → ready.
// Shut-down order: stop accepting and close connections → stop the I/O threads → commit and close
// storage. Accepted data is already committed (see broker.cpp), so a SIGKILL loses none of it.
#include "server/app/app.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "server/app/pki.hpp"
#include "server/broker/access.hpp"
#include "server/broker/mqtt_server.hpp"
#include "server/coap/coap_psk.hpp"
#include "server/coap/coap_server.hpp"
#include "server/coap/firmware_hosting.hpp"
#include "server/coap/lwm2m_server.hpp"
#include "server/core/platform.hpp"
#include "server/core/random.hpp"
#include "server/dialects/aliyun/module.hpp"
#include "server/dialects/command_router.hpp"
#include "server/dialects/generic/module.hpp"
#include "server/dialects/gizwits/module.hpp"
#include "server/dialects/mqtt_gateway.hpp"
#include "server/dialects/oceanconnect/module.hpp"
#include "server/dialects/registry.hpp"
#include "server/http/api_auth.hpp"
#include "server/http/event_json.hpp"
#include "server/http/firmware_api.hpp"
#include "server/http/ota_jobs_api.hpp"
#include "server/http/http_server.hpp"
#include "server/http/lwm2m_api.hpp"
#include "server/http/platform_api.hpp"
#include "server/http/system_api.hpp"
#include "server/http/webhooks.hpp"
#include "server/ota/downloads.hpp"
#include "server/ota/firmware_repository.hpp"
#include "server/ota/job_service.hpp"
#include "storage/broker_store.hpp"
#include "storage/database.hpp"
#include "storage/firmware_store.hpp"
#include "storage/ota_job_store.hpp"
#include "storage/migrations.hpp"
#include "storage/platform_store.hpp"
#include "storage/writer.hpp"

namespace fc::server {
namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;

/// One JSON object per line: {"time":…,"level":…,"msg":…}, the message escaped properly.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto time = std::chrono::system_clock::to_time_t(msg.time);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&time, &tm);
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    nlohmann::json line = {{"time", stamp},
                           {"level", spdlog::level::to_string_view(msg.level).data()},
                           {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

void writePortsFile(const std::string& path, const nlohmann::json& ports) {
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ports.dump() << "\n";
    if (!out) throw std::runtime_error("cannot write ports file " + path);
  }
  fs::rename(tmp, path);  // readers never see a half-written file
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Every client holds a descriptor, and Debian's default soft limit of 1024 would cap the broker
/// at about a thousand of them: take whatever the hard limit allows.
void raiseOpenFilesLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const auto soft = limit.rlim_cur;
  if (soft != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("open files: the soft limit stays {} (raising it to the hard limit {} failed)",
                   static_cast<std::uint64_t>(soft), static_cast<std::uint64_t>(limit.rlim_max));
      return;
    }
    spdlog::info("open files: soft limit raised from {} to the hard limit, {}", static_cast<std::uint64_t>(soft),
                 static_cast<std::uint64_t>(limit.rlim_max));
  } else {
    spdlog::info("open files: limit {}", static_cast<std::uint64_t>(soft));
  }
}

}  // namespace

void configureLogging(const Config& config) {
  auto logger = spdlog::stderr_color_mt("fakecloud");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.logLevel));
  if (config.logFormat == "json") spdlog::set_formatter(std::make_unique<JsonFormatter>());
  else spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  spdlog::flush_on(spdlog::level::info);
}

int runServer(const Config& config) {
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<storage::Writer> writer;
  std::unique_ptr<storage::BrokerStore> store;
  std::unique_ptr<storage::PlatformStore> platformStore;
  std::unique_ptr<storage::FirmwareStore> firmwareStore;
  std::unique_ptr<storage::OtaJobStore> otaJobStore;
  storage::OtaJobSnapshot otaJobSnapshot;
  storage::BrokerSnapshot snapshot;
  storage::PlatformSnapshot platformSnapshot;
  broker::TlsFiles tlsFiles;
  raiseOpenFilesLimit();
  try {
    fs::create_directories(config.dataDir);
    const auto dbPath = config.dbPath();
    if (dbPath != ":memory:" && fs::path(dbPath).has_parent_path()) fs::create_directories(fs::path(dbPath).parent_path());
    db = std::make_unique<storage::Database>(storage::Database::open(dbPath));
    storage::migrate(*db);
    writer = std::make_unique<storage::Writer>(*db, [](const std::string& e) { spdlog::error("storage: {}", e); });
    store = std::make_unique<storage::BrokerStore>(*writer);
    snapshot = store->load();
    platformStore = std::make_unique<storage::PlatformStore>(*writer);
    platformSnapshot = platformStore->load();
    firmwareStore = std::make_unique<storage::FirmwareStore>(*writer);
    otaJobStore = std::make_unique<storage::OtaJobStore>(*writer);
    otaJobSnapshot = otaJobStore->load();

    tlsFiles = {config.tls.certFile, config.tls.keyFile, config.tls.caFile, config.tls.ciphers, config.tls.minVersion,
                config.tls.clientCerts};
    if (tlsFiles.certFile.empty() || tlsFiles.caFile.empty()) {
      const auto pki = ensureLocalPki(config.dataDir + "/tls", config.tls.serverNames);
      if (tlsFiles.certFile.empty()) {
        tlsFiles.certFile = pki.serverCert;
        tlsFiles.keyFile = pki.serverKey;
      }
      if (tlsFiles.caFile.empty()) tlsFiles.caFile = pki.caCert;
    }
    if (tlsFiles.keyFile.empty()) throw std::runtime_error("tls.key: required when tls.cert is set");
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return 1;
  }

  net::io_context ioc;
  core::PlatformClock clock;
  core::Platform platform(clock, platformStore.get(),
                          core::PlatformLimits{config.platform.maxPendingCommandsPerDevice,
                                               config.platform.messagesPerDevice, config.platform.journalPerDevice});
  platform.load(platformSnapshot);
  // Firmware images: files next to the database, or a temporary directory for --db :memory:
  // (docs/ota.md). Opening sweeps what a killed upload left behind.
  std::shared_ptr<ota::FirmwareRepository> firmware;
  try {
    const auto dbPath = config.dbPath();
    fs::path dir;
    bool temporary = dbPath == ":memory:";
    if (temporary) {
      std::string pattern = (fs::temp_directory_path() / "fakecloud-firmware-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a temporary firmware directory");
      dir = pattern;
    } else {
      dir = fs::path(dbPath).parent_path() / "firmware";
      if (!fs::path(dbPath).has_parent_path()) dir = "firmware";
    }
    firmware = ota::FirmwareRepository::open(dir, temporary, *firmwareStore, clock,
                                             ota::RepositoryLimits{config.ota.maxFirmwareBytes});
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return 1;
  }
  auto downloads = std::make_shared<ota::DownloadLedger>();
  auto otaUrls = std::make_shared<http::OtaUrls>();
  platformSnapshot = {};
  platform.tick();  // commands that expired or timed out while the server was down
  // The dialects, asked by the MQTT gateway, the command router, the REST validation and the
  // OpenAPI document.
  dialects::DialectRegistry dialectRegistry;
  broker::StaticAccessPolicy staticAccess(config.mqtt);
  dialects::MqttGateway gateway(platform, dialectRegistry, staticAccess);
  coap::CoapServer coapServer(ioc, config.coap, clock);
  coap::Lwm2mServer lwm2m(platform, coapServer);
  coap::FirmwareHosting coapFirmware(platform, coapServer, firmware, downloads, config.ota.coapPath);
  otaUrls->coapPath = config.ota.coapPath;
  http::WebhookSender webhooks(ioc, tlsFiles.caFile);
  const dialects::DialectContext context{
      platform, gateway, coapServer, lwm2m,
      [&webhooks](const std::string& url, const std::string& json) { webhooks.post(url, json); }};
  // One line per dialect (docs/architecture.md, "Adding a dialect"); the gateway asks their MQTT
  // parts in this order who a CONNECT is.
  dialectRegistry.add(std::make_unique<dialects::GenericModule>(context));
  dialectRegistry.add(std::make_unique<dialects::AliyunModule>(context));
  dialectRegistry.add(std::make_unique<dialects::OceanConnectModule>(context));
  dialectRegistry.add(std::make_unique<dialects::GizwitsModule>(context, config.gizwits, config.bind));
  // The dialects hold on to the gateway, the CoAP and LwM2M servers and the webhook sender: they go
  // before those do (and after everything declared below, which may still call into them).
  struct ClearDialects {
    dialects::DialectRegistry& registry;
    ~ClearDialects() { registry.clear(); }
  } clearDialects{dialectRegistry};

  // Upgrade jobs (docs/ota.md): the dialects' OTA parts report to them; restored before any device
  // connects.
  ota::JobService jobs(platform, firmware, downloads, otaJobStore.get(), dialectRegistry,
                       [otaUrls](const ota::Offer& o) {
                         return ota::OfferUrls{otaUrls->http + http::offerPath(o.token),
                                               otaUrls->https + http::offerPath(o.token)};
                       });
  jobs.load(otaJobSnapshot);
  otaJobSnapshot = {};
  for (const auto& d : dialectRegistry.all())
    if (auto* part = d->ota()) part->attach(&jobs);

  broker::MqttServer mqtt(ioc, config.mqtt, gateway, store.get(), &gateway);
  gateway.setServer(&mqtt);
  mqtt.restore(snapshot);
  snapshot = {};
  dialectRegistry.addCoapResources(coapServer);
  coapServer.addResource(lwm2m.resource());
  coapServer.addResource(coapFirmware.resource());
  dialects::CommandRouter commandRouter(dialectRegistry, gateway);  // a dialect's own sender, else MQTT
  platform.setCommandSender(&commandRouter);

  if (!config.fixtures.empty()) {
    const auto text = readFile(config.fixtures);
    const auto fixtures = nlohmann::json::parse(text, nullptr, false, true);
    const auto report =
        http::loadFixtures(platform, dialectRegistry, fixtures.is_discarded() ? nlohmann::json() : fixtures);
    if (fixtures.is_discarded() || !report.errors.empty()) {
      spdlog::critical("fixtures {}: {}", config.fixtures,
                       fixtures.is_discarded() ? std::string("not valid JSON (or unreadable)") : report.errors.front());
      return 1;
    }
    spdlog::info("fixtures {}: {} products and {} devices created, {} existed", config.fixtures, report.products,
                 report.devices, report.existing);
  }

  // A command's status changes go to its callbackUrl, as the event stream shows them.
  platform.subscribe([&webhooks](const core::Event& e) {
    const auto* changed = std::get_if<core::CommandChanged>(&e);
    if (!changed || changed->command.spec.callbackUrl.empty()) return;
    webhooks.post(changed->command.spec.callbackUrl,
                  http::toJson(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  });

  // Platform timers follow the platform clock, which the admin API may move; a short real-time
  // tick keeps them within 50 ms of it (clock changes through the API tick at once).
  net::steady_timer scheduler(ioc);
  std::function<void()> scheduleTick = [&] {
    scheduler.expires_after(std::chrono::milliseconds(50));
    scheduler.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      platform.tick();
      coapServer.tick();  // CoAP retransmissions and expiries (platform time)
      lwm2m.tick();       // LwM2M registration lifetimes (platform time)
      coapFirmware.tick(coap::coapTime(clock.now()));  // block-wise downloads gone idle
      dialectRegistry.tick();  // the dialects' timers (IoCM activations, aliyun RRPC timeouts …)
      jobs.tick();             // upgrade jobs' start times, deadlines and rollout limits
      scheduleTick();
    });
  };
  scheduleTick();

  std::atomic<bool> ready{false};
  const std::string caPem = readFile(tlsFiles.caFile);
  auto router = std::make_shared<http::Router>();
  auto openApiParts = dialectRegistry.openApi();
  openApiParts.fragments.push_back(http::firmwareOpenApi());
  openApiParts.fragments.push_back(http::otaJobsOpenApi());
  http::addSystemRoutes(
      *router, [&ready] { return ready.load(); }, caPem, openApiParts);
  http::PlatformApiHooks hooks;
  hooks.onReset = [&mqtt, &lwm2m, &dialectRegistry, &coapFirmware, &jobs, firmware, downloads] {
    jobs.reset();
    firmware->reset();
    downloads->reset();
    coapFirmware.reset();
    mqtt.reset();
    lwm2m.reset();
    dialectRegistry.reset();
  };
  hooks.onClockChanged = [&lwm2m, &dialectRegistry, &jobs] {
    lwm2m.tick();
    dialectRegistry.tick();
    jobs.tick();
  };
  hooks.publish = [&mqtt](std::string topic, std::vector<std::uint8_t> payload, int qos, bool retain) {
    mqtt.publish(std::move(topic), std::move(payload), static_cast<mqtt::QoS>(qos), retain);
  };
  hooks.brokerStats = [&mqtt](std::function<void(nlohmann::json)> done) {
    mqtt.stats([done = std::move(done)](broker::BrokerStats s) {
      done({{"connections", s.connections},
            {"sessions", s.sessions},
            {"persistentSessions", s.persistentSessions},
            {"subscriptions", s.subscriptions},
            {"retained", s.retained},
            {"publishesReceived", s.publishesReceived},
            {"messagesSent", s.messagesSent},
            {"messagesDropped", s.messagesDropped},
            {"publishesDenied", s.publishesDenied}});
    });
  };
  http::addPlatformRoutes(*router, platform, clock, dialectRegistry, std::move(hooks));
  dialectRegistry.addRoutes(*router);
  http::addLwm2mRoutes(*router, platform, lwm2m);
  http::addFirmwareRoutes(*router, {platform, firmware, downloads, otaUrls});
  http::addOtaJobRoutes(*router, &jobs);
  std::string apiToken = config.apiToken;
  if (apiToken.empty() && !http::isLoopbackAddress(config.bind)) apiToken = core::randomAlnum(32);
  if (!apiToken.empty()) router->setGuard(http::bearerTokenGuard(apiToken));
  http::HttpServer httpServer(ioc, router);
  httpServer.addWebSocket(http::eventStreamRoute(platform));

  nlohmann::json ports;
  try {
    ports["mqtt"] = mqtt.listenTcp(config.bind, config.ports.mqtt);
    // Only the mutual-TLS port asks for client certificates: a CertificateRequest breaks stacks
    // such as iotkit-embedded v2.x (mbedTLS answers it with a malformed empty Certificate), and
    // the real clouds do not send one on their plain TLS endpoints.
    auto serverOnlyTls = tlsFiles;
    serverOnlyTls.clientCerts = ClientCertMode::None;
    ports["mqtts"] = mqtt.listenTls(config.bind, config.ports.mqtts, serverOnlyTls);
    if (tlsFiles.clientCerts != ClientCertMode::None)
      ports["mqttsMtls"] = mqtt.listenTls(config.bind, config.ports.mqttsMtls, tlsFiles);
    ports["http"] = httpServer.listen(config.bind, config.ports.http);
    ports["https"] = httpServer.listenTls(config.bind, config.ports.https, serverOnlyTls);  // the API takes tokens
    ports["coap"] = coapServer.listenUdp(config.bind, config.ports.coap);
    ports["coaps"] = coapServer.listenDtls(config.bind, config.ports.coaps, coap::platformPskLookup(platform));
    dialectRegistry.serving({ports["mqtt"].get<std::uint16_t>(), ports["mqtts"].get<std::uint16_t>(),
                             ports["http"].get<std::uint16_t>(), ports["https"].get<std::uint16_t>(),
                             ports["coap"].get<std::uint16_t>(), ports["coaps"].get<std::uint16_t>()});
    // The download URLs handed to devices: the configured public bases, else the bound listeners.
    const auto host = config.bind == "0.0.0.0" || config.bind == "::" ? std::string("127.0.0.1") : config.bind;
    const auto base = [&host](const std::string& configured, const char* scheme, int port) {
      std::string b = configured.empty() ? std::string(scheme) + "://" + host + ":" + std::to_string(port) : configured;
      while (b.ends_with('/')) b.pop_back();
      return b;
    };
    otaUrls->http = base(config.ota.httpBaseUrl, "http", ports["http"].get<int>());
    otaUrls->https = base(config.ota.httpsBaseUrl, "https", ports["https"].get<int>());
    otaUrls->coap = base(config.ota.coapBaseUrl, "coap", ports["coap"].get<int>());
    otaUrls->coaps = base(config.ota.coapsBaseUrl, "coaps", ports["coaps"].get<int>());
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return 1;
  }

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  net::steady_timer grace(ioc);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", signo);
    ready = false;
    mqtt.stop();
    httpServer.stop();
    webhooks.stop();
    coapServer.stop();
    scheduler.cancel();
    // Give the connections a moment to flush and the wills to be routed, then stop the threads.
    grace.expires_after(std::chrono::milliseconds(300));
    grace.async_wait([&](const boost::system::error_code&) { ioc.stop(); });
  });

  const auto url = [&](const char* scheme, const char* key) {
    return std::string(scheme) + "://" + config.bind + ":" + std::to_string(ports[key].get<int>());
  };
  spdlog::info(
      "fakecloud ready — MQTT {}  MQTTS {}  MQTTS with client certificates {}  HTTP {}  HTTPS {}  CoAP {}  "
      "CoAPS {}  (data {}, db {})",
      url("mqtt", "mqtt"), url("mqtts", "mqtts"),
      ports.contains("mqttsMtls") ? url("mqtts", "mqttsMtls") : std::string("off"), url("http", "http"),
      url("https", "https"), url("coap", "coap"), url("coaps", "coaps"), config.dataDir, config.dbPath());
  if (!config.apiToken.empty())
    spdlog::info("the API requires the configured bearer token (api.token)");
  else if (!apiToken.empty())
    spdlog::warn("bound to {}, so the API requires a bearer token; this run's token: {}  (set api.token to fix one)",
                 config.bind, apiToken);
  spdlog::info("TLS CA for devices: {} (also at {}/api/v1/ca.pem)", tlsFiles.caFile, url("http", "http"));
  // The ports file tells whoever started us that we are up: by then the lines above are in the log
  // (tests and CI scripts read the generated API token from it).
  if (!config.portsFile.empty()) {
    try {
      writePortsFile(config.portsFile, ports);
    } catch (const std::exception& e) {
      spdlog::critical("start-up failed: {}", e.what());
      return 1;
    }
  }
  ready = true;

  const unsigned threads = config.threads ? config.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();

  writer->stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace fc::server
