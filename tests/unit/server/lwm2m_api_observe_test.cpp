// The LwM2M API's observe cancel in the one state no test over the wire can reach: the observe's
// GET handed to the CoAP server but not gone out yet. Here the CoAP server's io_context never runs,
// so that is where the request stays, and DELETE …/observe must answer 409 "starting" (docs/api.md).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <optional>

#include "protocols/coap/message.hpp"
#include "server/dialects/oceanconnect/oceanconnect_devices.hpp"
#include "server/http/lwm2m_api.hpp"
#include "tests/unit/dialects/server_dialects.hpp"

namespace fc::server::http {
namespace {

namespace fcoap = fc::coap;

// Mutations these tests are meant to kill: answering 200 (or 404) while the request's id is not
// known yet; erasing the entry before that check (the observation could then never be cancelled).
TEST(Lwm2mApiObserve, ACancelBeforeTheObserveWentOutIs409StartingAndKeepsTheObservation) {
  std::optional<ApiResponse> observed;  // outlives the server: a request dropped at its end may still answer
  test::ServerDialects d;
  ASSERT_TRUE(d.platform.createProduct(core::Product{"led", "", "oceanconnect", nlohmann::json::object()}));
  core::Device lamp;
  lamp.id = "lamp-1";
  lamp.productId = "led";
  lamp.identifiers = {{"nodeId", "node-1"}};
  ASSERT_FALSE(dialects::prepareOceanConnectDevice(d.platform, lamp));
  ASSERT_TRUE(d.platform.createDevice(lamp));

  fcoap::Message reg{.type = fcoap::Type::Confirmable, .code = fcoap::code::kPost};
  reg.setUriPath("rd");
  for (const char* q : {"ep=node-1", "lt=300", "lwm2m=1.0", "b=U"}) reg.addString(fcoap::option::kUriQuery, q);
  reg.setPayload("</3/0>,</19/0>");
  const fcoap::PeerKey peer = "127.0.0.1:5000";
  const auto registered = d.lwm2m.resource().handler(fcoap::IncomingRequest{peer, reg, "rd", "", fcoap::Clock::now()});
  ASSERT_EQ(registered.code, fcoap::code::kCreated);

  Router router;
  addLwm2mRoutes(router, d.platform, d.lwm2m);
  const std::string resource = "/api/v1/devices/lamp-1/lwm2m/3/0/0/observe";
  router.dispatch(ApiRequest{.method = "POST", .path = resource}, [&](ApiResponse r) { observed = std::move(r); });
  EXPECT_FALSE(observed) << "the observe answers once the device does";

  const auto cancel = router.handle(ApiRequest{.method = "DELETE", .path = resource});
  EXPECT_EQ(cancel.status, 409) << cancel.body;
  EXPECT_EQ(nlohmann::json::parse(cancel.body)["error"]["code"], "starting");
  const auto again = router.handle(ApiRequest{.method = "DELETE", .path = resource});
  EXPECT_EQ(again.status, 409) << "the refused cancel left the observation in place: " << again.body;

  const auto none = router.handle(ApiRequest{.method = "DELETE", .path = "/api/v1/devices/lamp-1/lwm2m/3/0/1/observe"});
  EXPECT_EQ(none.status, 404) << "nothing observed there: " << none.body;
}

}  // namespace
}  // namespace fc::server::http
