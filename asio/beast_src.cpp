// The single translation unit holding Boost.Beast's compiled code.
#include <boost/beast/src.hpp>
