# CTest fixtures that run a fakecloud for a project's tests (docs/ci.md, "CMake and CTest").
#
#   fakecloud_add_fixture(<name> [FIXTURES_FILE <file.json>] [EXECUTABLE <path>] [ARGS <flag>...])
#     Registers the tests <name>.start (FIXTURES_SETUP <name>) and <name>.stop (FIXTURES_CLEANUP
#     <name>). The start test runs fakecloud in the background on free ports (every port 0,
#     --db :memory:, a data directory of its own under the build tree) with the products and devices
#     of FIXTURES_FILE, and passes once the server is ready; the stop test ends it with SIGTERM. The
#     server is fakecloud::fakecloud unless EXECUTABLE names another; ARGS are more fakecloud flags
#     (not the ones the fixture sets: --data-dir, --db, the ports, --ports-file, --fixtures).
#     Sets FAKECLOUD_FIXTURE_<name>_DIR: the fixture's directory (ports.json, fakecloud.log, data/).
#
#   fakecloud_add_test(NAME <test> FIXTURE <name> COMMAND <command> [<arg>...])
#     add_test() (an executable target as the command names its file) whose command runs with the fixture's server in its environment:
#       FAKECLOUD_HOST        127.0.0.1
#       FAKECLOUD_MQTT_PORT, FAKECLOUD_MQTTS_PORT, FAKECLOUD_MQTTS_MTLS_PORT, FAKECLOUD_HTTP_PORT,
#       FAKECLOUD_HTTPS_PORT, FAKECLOUD_COAP_PORT, FAKECLOUD_COAPS_PORT   the bound ports
#       FAKECLOUD_URL         http://127.0.0.1:<http port> (REST API, no token needed on loopback)
#       FAKECLOUD_CA          the CA certificate (PEM) that signed the server's TLS certificate
#       FAKECLOUD_PORTS_JSON  the ports file itself
#     The test needs the fixture (FIXTURES_REQUIRED), so `ctest -R <test>` starts and stops it too.
#     Further properties: set_tests_properties(<test> …) as usual.
include_guard(GLOBAL)

set(_FAKECLOUD_FIXTURE_RUN ${CMAKE_CURRENT_LIST_DIR}/FakecloudFixtureRun.cmake)

function(fakecloud_add_fixture name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "FIXTURES_FILE;EXECUTABLE" "ARGS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "fakecloud_add_fixture(${name}): unexpected arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(arg_EXECUTABLE)
    set(server ${arg_EXECUTABLE})
  elseif(TARGET fakecloud::fakecloud)
    set(server $<TARGET_FILE:fakecloud::fakecloud>)
  else()
    message(FATAL_ERROR "fakecloud_add_fixture(${name}): no fakecloud::fakecloud target; pass EXECUTABLE")
  endif()
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/fakecloud-${name})
  set(flags ${arg_ARGS})
  if(arg_FIXTURES_FILE)
    get_filename_component(fixtures ${arg_FIXTURES_FILE} ABSOLUTE)
    list(PREPEND flags --fixtures ${fixtures})
  endif()
  add_test(NAME ${name}.start
    COMMAND ${CMAKE_COMMAND} -DMODE=start -DDIR=${dir} -P ${_FAKECLOUD_FIXTURE_RUN} -- ${server} ${flags})
  add_test(NAME ${name}.stop COMMAND ${CMAKE_COMMAND} -DMODE=stop -DDIR=${dir} -P ${_FAKECLOUD_FIXTURE_RUN})
  set_tests_properties(${name}.start PROPERTIES FIXTURES_SETUP ${name} TIMEOUT 60)
  set_tests_properties(${name}.stop PROPERTIES FIXTURES_CLEANUP ${name} TIMEOUT 60)
  set(FAKECLOUD_FIXTURE_${name}_DIR ${dir} PARENT_SCOPE)
  set_property(DIRECTORY PROPERTY _FAKECLOUD_FIXTURE_${name}_DIR ${dir})
endfunction()

function(fakecloud_add_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;FIXTURE" "COMMAND")
  if(NOT arg_NAME OR NOT arg_FIXTURE OR NOT arg_COMMAND)
    message(FATAL_ERROR "fakecloud_add_test: NAME, FIXTURE and COMMAND are required")
  endif()
  get_property(dir DIRECTORY PROPERTY _FAKECLOUD_FIXTURE_${arg_FIXTURE}_DIR)
  if(NOT dir)
    message(FATAL_ERROR "fakecloud_add_test(${arg_NAME}): no fixture ${arg_FIXTURE} in this directory "
                        "(call fakecloud_add_fixture(${arg_FIXTURE}) first)")
  endif()
  list(GET arg_COMMAND 0 program)
  if(TARGET ${program})  # like add_test(): an executable target names its file
    list(POP_FRONT arg_COMMAND)
    list(PREPEND arg_COMMAND $<TARGET_FILE:${program}>)
  endif()
  add_test(NAME ${arg_NAME}
    COMMAND ${CMAKE_COMMAND} -DMODE=run -DDIR=${dir} -P ${_FAKECLOUD_FIXTURE_RUN} -- ${arg_COMMAND})
  set_tests_properties(${arg_NAME} PROPERTIES FIXTURES_REQUIRED ${arg_FIXTURE})
endfunction()
