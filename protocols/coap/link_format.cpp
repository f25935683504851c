// CoRE Link Format. Grammar references are to RFC 6690 §2 unless noted.
#include "protocols/coap/link_format.hpp"

#include <algorithm>

namespace fc::coap {
namespace {

bool isAlpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool isDigit(char c) noexcept { return c >= '0' && c <= '9'; }
bool isSpace(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// parmname = 1*attr-char minus "%", "'" and "*" (RFC 5987 §3.2.1).
bool isParmnameChar(char c) noexcept {
  return isAlpha(c) || isDigit(c) || std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
}

// ptokenchar (RFC 6690 §2).
bool isPtokenChar(char c) noexcept {
  return isAlpha(c) || isDigit(c) || std::string_view("!#$%&'()*+-./:<=>?@[]^_`{|}~").find(c) != std::string_view::npos;
}

bool isPtoken(std::string_view s) noexcept { return !s.empty() && std::all_of(s.begin(), s.end(), isPtokenChar); }

// A URI-Reference has no spaces, controls or '<' (RFC 3986 §4.1, Appendix C); other characters
// are kept as written rather than judged, so that a sloppy device still registers.
bool validTarget(std::string_view s) noexcept {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F || c == '<';
  });
}

class Parser {
 public:
  explicit Parser(std::string_view text) noexcept : s_(text) {}

  Expected<std::vector<Link>, LinkFormatError> run() {
    std::vector<Link> links;
    skipSpace();
    if (atEnd()) return links;  // link-value-list = [ link-value *[ "," link-value ] ]
    for (;;) {
      skipSpace();
      if (atEnd() || peek() == ',') return Unexpected(LinkFormatError::EmptyLink);
      Link link;
      if (auto e = target(link.target)) return Unexpected(*e);
      for (;;) {
        skipSpace();
        if (atEnd()) {
          links.push_back(std::move(link));
          return links;
        }
        if (peek() == ',') {
          ++pos_;
          break;
        }
        if (peek() != ';') return Unexpected(LinkFormatError::ExpectedSeparator);
        ++pos_;
        skipSpace();
        LinkParam p;
        if (auto e = param(p)) return Unexpected(*e);
        link.params.push_back(std::move(p));
      }
      links.push_back(std::move(link));
    }
  }

 private:
  using Status = std::optional<LinkFormatError>;

  [[nodiscard]] bool atEnd() const noexcept { return pos_ >= s_.size(); }
  [[nodiscard]] char peek() const noexcept { return s_[pos_]; }
  void skipSpace() noexcept {
    while (!atEnd() && isSpace(peek())) ++pos_;
  }
  // After a parameter: only whitespace, a separator or the end may follow.
  [[nodiscard]] bool atBoundary() const noexcept {
    return atEnd() || isSpace(peek()) || peek() == ';' || peek() == ',';
  }

  Status target(std::string& out) {
    if (peek() != '<') return LinkFormatError::ExpectedLink;
    const auto close = s_.find('>', pos_ + 1);
    if (close == std::string_view::npos) return LinkFormatError::UnterminatedTarget;
    const auto uri = s_.substr(pos_ + 1, close - pos_ - 1);
    if (!validTarget(uri)) return LinkFormatError::BadTarget;
    out.assign(uri);
    pos_ = close + 1;
    return {};
  }

  Status param(LinkParam& p) {
    const std::size_t start = pos_;
    while (!atEnd() && isParmnameChar(peek())) ++pos_;
    if (pos_ == start) return LinkFormatError::BadParamName;
    if (!atEnd() && peek() == '*') ++pos_;  // ext-name-star = parmname "*" (RFC 8288 §3)
    p.name.assign(s_.substr(start, pos_ - start));
    if (atEnd() || peek() != '=') {
      if (!atBoundary()) return LinkFormatError::BadParamName;
      return {};
    }
    ++pos_;
    if (!atEnd() && peek() == '"') return quoted(p);
    const std::size_t valueStart = pos_;
    while (!atEnd() && isPtokenChar(peek())) ++pos_;
    if (pos_ == valueStart || !atBoundary()) return LinkFormatError::BadParamValue;
    p.value.emplace(s_.substr(valueStart, pos_ - valueStart));
    return {};
  }

  // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 2616 §2.2).
  Status quoted(LinkParam& p) {
    ++pos_;
    std::string value;
    for (;;) {
      if (atEnd()) return LinkFormatError::UnterminatedQuote;
      const char c = s_[pos_++];
      if (c == '"') break;
      if (c == '\\') {
        if (atEnd()) return LinkFormatError::UnterminatedQuote;
        value.push_back(s_[pos_++]);
        continue;
      }
      value.push_back(c);
    }
    if (!atBoundary()) return LinkFormatError::ExpectedSeparator;
    p.value = std::move(value);
    p.quoted = true;
    return {};
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

class LinkFormatCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coap.link-format"; }

  std::string message(int ev) const override {
    switch (static_cast<LinkFormatError>(ev)) {
      case LinkFormatError::ExpectedLink:
        return "link-value does not start with '<' (RFC 6690 §2)";
      case LinkFormatError::UnterminatedTarget:
        return "'<' without a closing '>' (RFC 6690 §2)";
      case LinkFormatError::BadTarget:
        return "invalid character in the link target (RFC 3986 §4.1)";
      case LinkFormatError::BadParamName:
        return "invalid link-param name (RFC 6690 §2)";
      case LinkFormatError::BadParamValue:
        return "invalid link-param value (RFC 6690 §2)";
      case LinkFormatError::UnterminatedQuote:
        return "quoted-string without a closing quote (RFC 6690 §2)";
      case LinkFormatError::ExpectedSeparator:
        return "expected ';' or ',' (RFC 6690 §2)";
      case LinkFormatError::EmptyLink:
        return "empty link-value in the list (RFC 6690 §2)";
    }
    return "unknown link-format error";
  }
};

}  // namespace

std::optional<std::string_view> Link::param(std::string_view name) const noexcept {
  for (const auto& p : params) {
    if (p.name == name) return p.value ? std::string_view(*p.value) : std::string_view{};
  }
  return std::nullopt;
}

bool Link::hasParam(std::string_view name) const noexcept { return param(name).has_value(); }

const std::error_category& linkFormatCategory() noexcept {
  static const LinkFormatCategory category;
  return category;
}

std::error_code make_error_code(LinkFormatError e) noexcept { return {static_cast<int>(e), linkFormatCategory()}; }

Expected<std::vector<Link>, LinkFormatError> parseLinkFormat(std::string_view text) { return Parser(text).run(); }

std::string serializeLinkFormat(std::span<const Link> links) {
  std::string out;
  for (std::size_t i = 0; i < links.size(); ++i) {
    if (i != 0) out.push_back(',');
    out.push_back('<');
    out.append(links[i].target);
    out.push_back('>');
    for (const auto& p : links[i].params) {
      out.push_back(';');
      out.append(p.name);
      if (!p.value) continue;
      out.push_back('=');
      if (!p.quoted && isPtoken(*p.value)) {
        out.append(*p.value);
        continue;
      }
      out.push_back('"');
      for (const char c : *p.value) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out.push_back('"');
    }
  }
  return out;
}

}  // namespace fc::coap
