//go:build !linux

package hamming

func makeTable[T any](owner *static, n int) []T { return make([]T, n) }
