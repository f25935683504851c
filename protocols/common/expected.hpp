// fc::Expected — a value or an error, spelled like C++23 std::expected (g++ 12 has no <expected> in C++20).
// Only what the codecs need: construction from a value or fc::Unexpected, has_value/operator bool,
// value()/operator*/operator->, error().
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace fc {

template <class E>
class Unexpected {
 public:
  constexpr explicit Unexpected(E e) : error_(std::move(e)) {}
  constexpr const E& error() const& noexcept { return error_; }
  constexpr E& error() & noexcept { return error_; }

 private:
  E error_;
};

template <class E>
Unexpected(E) -> Unexpected<E>;

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  using value_type = T;
  using error_type = E;

  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Expected>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, Unexpected<E>>)
  constexpr Expected(U&& v) : storage_(std::in_place_index<0>, std::forward<U>(v)) {}
  constexpr Expected(Unexpected<E> u) : storage_(std::in_place_index<1>, std::move(u.error())) {}

  constexpr bool has_value() const noexcept { return storage_.index() == 0; }
  constexpr explicit operator bool() const noexcept { return has_value(); }

  constexpr T& value() & { assert(has_value()); return std::get<0>(storage_); }
  constexpr const T& value() const& { assert(has_value()); return std::get<0>(storage_); }
  constexpr T&& value() && { assert(has_value()); return std::get<0>(std::move(storage_)); }
  constexpr T& operator*() & { return value(); }
  constexpr const T& operator*() const& { return value(); }
  constexpr T&& operator*() && { return std::move(*this).value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }

  constexpr const E& error() const& { assert(!has_value()); return std::get<1>(storage_); }

 private:
  std::variant<T, E> storage_;
};

}  // namespace fc
