// The single translation unit holding Boost.Asio and Asio SSL's compiled code.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
