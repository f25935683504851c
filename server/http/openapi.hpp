// The pieces the OpenAPI document is built from: one row per route, and the schemas the rows name.
// system_api.cpp holds the platform's rows; each dialect brings a fragment for the routes it adds
// (server/dialects/dialect.hpp), so the document and the router are filled from the same places
// and tests/unit/server/openapi_test.cpp can hold one against the other.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace fc::server::http {

struct OpenApiOperation {
  const char* method;
  const char* path;
  const char* summary;
  const char* requestSchema;   // component name, or nullptr
  const char* responseSchema;  // component name for the success body, or nullptr for free-form
  std::vector<int> statuses;   // success status first
  std::vector<const char*> query = {};
  const char* errorSchema = "Error";  // the body of the error statuses (a dialect's API may have its own)
};

/// A dialect's part of the document.
struct OpenApiFragment {
  std::vector<OpenApiOperation> operations;
  nlohmann::json schemas = nlohmann::json::object();  // component name → schema
};

/// What the document describes beyond the platform's own routes.
struct OpenApiParts {
  std::vector<std::string> dialects;  // the registered dialect names (ProductInput.dialect's enum)
  std::vector<OpenApiFragment> fragments;
};

/// Schema helpers for fragments (OpenAPI 3.0 Schema Objects).
namespace openapi {
nlohmann::json object(std::initializer_list<std::pair<const char*, nlohmann::json>> properties,
                      std::vector<std::string> required = {});
nlohmann::json ref(const char* name);  // {"$ref": "#/components/schemas/<name>"}
nlohmann::json str();
nlohmann::json integer();
nlohmann::json boolean();
nlohmann::json any();
nlohmann::json arrayOf(const char* name);
}  // namespace openapi

}  // namespace fc::server::http
