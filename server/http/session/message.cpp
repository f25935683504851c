// Beast messages ↔ the Router's plain structs; no composed operation is instantiated here.
#include <algorithm>
#include <cctype>

#include "server/http/session/beast_session.hpp"

namespace fc::server::http::session {

namespace bhttp = boost::beast::http;

ApiRequest toApiRequest(const StringRequest& req, bool tls) {
  ApiRequest out = toApiRequest(static_cast<const bhttp::request_header<>&>(req), tls);
  out.body = req.body();
  return out;
}

ApiRequest toApiRequest(const bhttp::request_header<>& req, bool tls) {
  ApiRequest out;
  out.tls = tls;
  out.method = std::string(req.method_string());
  const std::string target(req.target());
  const auto q = target.find('?');
  out.path = target.substr(0, q);
  if (q != std::string::npos) out.query = target.substr(q + 1);
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out.headers[name] = std::string(field.value());
  }
  return out;
}

std::string streamedHead(const ApiResponse& r, bool keepAlive, unsigned version) {
  std::string head = version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(r.status) + " " + std::string(reasonPhrase(r.status)) + "\r\n";
  head += "Server: fakecloud\r\nContent-Type: " + r.contentType + "\r\n";
  for (const auto& [name, value] : r.headers) head += name + ": " + value + "\r\n";
  head += "Content-Length: " + std::to_string(r.stream ? r.stream->size() : r.body.size()) + "\r\n";
  if (version == 10 && keepAlive) head += "Connection: keep-alive\r\n";
  if (version != 10 && !keepAlive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

std::shared_ptr<bhttp::response<bhttp::string_body>> toBeastResponse(ApiResponse r, bool keepAlive, unsigned version) {
  auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), version);
  res->set(bhttp::field::server, "fakecloud");
  res->set(bhttp::field::content_type, r.contentType);
  for (const auto& [name, value] : r.headers) res->set(name, value);
  res->keep_alive(keepAlive);
  res->body() = std::move(r.body);
  res->prepare_payload();
  return res;
}

}  // namespace fc::server::http::session
