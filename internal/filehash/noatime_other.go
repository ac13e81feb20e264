//go:build !linux

package filehash

const (
	oNoATime  = 0
	oNonBlock = 0
)
