package merges

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"

	"github.com/ferry-health/ferry/queue/seal"
)

// FileName is the registry's file in the data directory.
const FileName = "merges.log"

// SealedKeys counts the records of the registry at path per id of the key
// that sealed them, reading record headers only (no key needed), for the
// checks that a key may be retired (`ferry doctor`) and that every key
// the data directory needs is configured. Open seals every record anew
// with the current key, so records of a previous key remain only until
// the next start; a gateway stopped across a rotation still needs it. It
// stops at the first record that is not whole (a torn tail, which Open
// cuts off). No file counts nothing.
func SealedKeys(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int{}, nil
	}
	if err != nil {
		return nil, err
	}
	use := map[string]int{}
	if len(data) < int(headerLen) || string(data[:headerLen]) != magic {
		return use, nil
	}
	for rest := data[headerLen:]; len(rest) >= 8; {
		n := int(binary.LittleEndian.Uint32(rest))
		if n > maxPayload || 4+n+4 > len(rest) || crc32.Checksum(rest[:4+n], castagnoli) != binary.LittleEndian.Uint32(rest[4+n:]) {
			break
		}
		if id, sealed := seal.KeyIDOf(rest[4 : 4+n]); sealed {
			use[id]++
		}
		rest = rest[4+n+4:]
	}
	return use, nil
}
