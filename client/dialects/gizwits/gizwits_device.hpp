// fc::client::GizwitsDevice — a Gizwits GAgent v4 device (../shared/protocols/gizwits.md,
// docs/dialects/gizwits.md): registers over GService HTTP (POST /dev/devices), provisions (GET
// /dev/devices/<did>) to learn the M2M host and port, signs in over MQTT 3.1 (MQIsdp, client id =
// username = DID, password = passcode), subscribes as GAgent does (QoS 0), and speaks the binary
// frames both ways on the shared codec (protocols/dialects/gizwits/frame.hpp): pass-through
// 0x0090/0x0091, ACKed pass-through 0x0093/0x0094, log level 0x0010/0x0011, logs 0x0012 and the
// online app count 0x020F/0x0210. OTA pushes reach a handler as frames.
//
// Asynchronous on an io_context the caller runs, with no thread of its own, so one thread can drive
// a fleet. Handlers run on the MQTT client's strand (or the HTTP exchange's): do not block in them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "client/mqtt_client.hpp"
#include "client/mqtt_options.hpp"
#include "protocols/dialects/gizwits/frame.hpp"
#include "protocols/dialects/gizwits/http_forms.hpp"

namespace boost::asio {
class io_context;
}

namespace fc::client {

/// Who the device is: what it registers with, and the DID once it has one.
struct GizwitsIdentity {
  std::string productKey;  ///< 32 hex digits
  std::string mac;         ///< 12 hex digits
  std::string passcode;    ///< 10 characters the device chose
  std::string did;         ///< empty until registered
};

/// One HTTP/1.1 exchange as GAgent makes it: `Connection: close`, the answer read to EOF.
struct HttpAnswer {
  int status = 0;  ///< from between the first two spaces of the status line
  std::string head;  ///< status line and headers
  std::string body;
};
using HttpHandler = std::function<void(std::error_code, HttpAnswer)>;
/// Sends `method target` with a form body (when not empty) to host:port; the handler runs once.
void gizwitsHttp(boost::asio::io_context& ioc, const std::string& host, std::uint16_t port, const std::string& method,
                 const std::string& target, const std::string& body, HttpHandler handler);

class GizwitsDevice {
 public:
  using Completion = std::function<void(std::error_code)>;
  /// `httpHost:httpPort` is GService (api.gizwits.com:80 for the real cloud).
  GizwitsDevice(boost::asio::io_context& ioc, GizwitsIdentity identity, std::string httpHost, std::uint16_t httpPort);
  ~GizwitsDevice();
  GizwitsDevice(const GizwitsDevice&) = delete;
  GizwitsDevice& operator=(const GizwitsDevice&) = delete;

  // --- GService ---
  /// POST /dev/devices; on 201 the DID is kept (identity().did). An answer other than 201 is
  /// Error::ProtocolError with the answer.
  void registerDevice(std::function<void(std::error_code, HttpAnswer)> done);
  /// DELETE /dev/devices with the DID and passcode.
  void deregister(std::function<void(std::error_code, HttpAnswer)> done);
  /// GET /dev/devices/<did>: where M2M is.
  void provision(std::function<void(std::error_code, gizwits::Provision, HttpAnswer)> done);

  // --- M2M (MQTT 3.1) ---
  /// Connects to host:port as the DID over MQTT 3.1 (MQIsdp, level 3; keepalive and the rest
  /// from `transport`), subscribes to ser2cli_noti/<productKey>, ser2cli_res/<did> and
  /// app2dev/<did>/# at QoS 0, then asks for the online app count (0x020F on cli2ser_req). `done`
  /// runs after the SUBACK; a refusing CONNACK is Error::ConnectionRefused with that CONNACK.
  void connect(MqttOptions transport, std::function<void(std::error_code, mqtt::Connack)> done);
  void disconnect(Completion done = {});

  /// 0x0091 on dev2app/<did>[/<appClientId>].
  void sendToApp(std::vector<std::uint8_t> data, const std::string& appClientId = {}, Completion done = {});
  /// 0x0093 with the next sn; `acked` runs with the data of the 0x0094 carrying that sn.
  void sendAcked(std::vector<std::uint8_t> data, const std::string& appClientId,
                 std::function<void(std::vector<std::uint8_t>)> acked, Completion sent = {});
  /// 0x0012 on dev2app/<did>.
  void sendLog(std::uint8_t level, std::string tag, std::string source, std::string content, Completion done = {});
  /// 0x020F on cli2ser_req; the answer reaches onAppCount.
  void requestAppCount(Completion done = {});

  /// 0x0090 from an app (the app client id from the topic).
  void onPassThrough(std::function<void(const std::string& appClientId, const std::vector<std::uint8_t>&)> handler);
  /// 0x0093 from an app: the device answers 0x0094 with the same sn and what the handler returns
  /// (nothing without a handler).
  void onAcked(std::function<std::vector<std::uint8_t>(const std::string& appClientId,
                                                       const std::vector<std::uint8_t>&)> handler);
  /// 0x0010: the device answers 0x0011 on dev2app/<did>/<appClientId> after the handler.
  void onLogLevel(std::function<void(std::uint16_t bits)> handler);
  /// 0x0210 on ser2cli_res/<did>.
  void onAppCount(std::function<void(std::uint16_t count)> handler);
  /// 0x020E / 0x0211 on ser2cli_res/<did>.
  void onOtaPush(std::function<void(const gizwits::Frame&)> handler);

  const GizwitsIdentity& identity() const;
  /// The MQTT client underneath (valid after connect()).
  MqttClient* mqtt();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace fc::client
