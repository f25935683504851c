// Topic level splitting shared by the subscription and retained trees.
#include "server/broker/topic_tree.hpp"

namespace fc::server::broker {

std::vector<std::string_view> splitLevels(std::string_view topic) {
  std::vector<std::string_view> levels;
  std::size_t start = 0;
  while (true) {
    const auto slash = topic.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(topic.substr(start));
      return levels;
    }
    levels.push_back(topic.substr(start, slash - start));
    start = slash + 1;
  }
}

}  // namespace fc::server::broker
