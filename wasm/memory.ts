// AssemblyScript shared by the kernels: 32-bit integers and doubles at an index from a base address.

@inline export function i32At(base: usize, k: i32): i32 {
  return load<i32>(base + (<usize>k << 2));
}
@inline export function setI32(base: usize, k: i32, v: i32): void {
  store<i32>(base + (<usize>k << 2), v);
}
@inline export function f64At(base: usize, k: i32): f64 {
  return load<f64>(base + (<usize>k << 3));
}
@inline export function setF64(base: usize, k: i32, v: f64): void {
  store<f64>(base + (<usize>k << 3), v);
}
