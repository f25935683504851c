// The HTTPS session: the only translation unit that instantiates the TLS handshake and HTTP reads
// and writes over TLS.
#include <boost/asio/ssl/context.hpp>

#include "server/http/session/http_session.hpp"

namespace fc::server::http::session {

void startTls(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls, const SessionContext& context) {
  std::make_shared<Session<TlsStream>>(TlsStream(boost::beast::tcp_stream(std::move(socket)), tls), context)->start();
}

}  // namespace fc::server::http::session
