// fakecloud: command line → Config → runServer.
#include <unistd.h>

#include <iostream>

#include "server/app/app.hpp"
#include "server/app/config.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> environment;
  for (char** e = environ; e && *e; ++e) environment.emplace_back(*e);
  auto result = fc::server::loadConfig(argc, argv, environment);
  if (!result.config) {
    (result.exitCode == 0 ? std::cout : std::cerr) << result.message << std::endl;
    return result.exitCode;
  }
  fc::server::configureLogging(*result.config);
  return fc::server::runServer(*result.config);
}
