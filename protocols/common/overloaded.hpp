// One visitor from several lambdas, for std::visit over a variant: std::visit(Overloaded{…}, v).
#pragma once

namespace fc {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace fc
