package faxfhir

import (
	"crypto/sha1"
	"encoding/hex"
	"math/big"
)

// namespace is the UUID namespace of ferry's fax identifiers (itself a
// name-based UUID of "urn:ferry:fax" in the URL namespace).
var namespace = uuid5([16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}, "urn:ferry:fax")

// uuid5 is an RFC 9562 name-based (SHA-1) UUID: the same name always gives
// the same UUID, which is what makes a re-dropped fax a no-op.
func uuid5(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

// id is a derived identifier in the two spellings MHD needs.
type id [16]byte

func newID(name string) id { return id(uuid5(namespace, name)) }

// String is the plain UUID, usable as a FHIR resource id.
func (u id) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// URN is urn:uuid:..., the entryUUID form and the bundle fullUrl.
func (u id) URN() string { return "urn:uuid:" + u.String() }

// OID is urn:oid:2.25.<the UUID as an integer> (ITU-T X.667), because MHD
// uniqueIds must be OIDs.
func (u id) OID() string { return "urn:oid:2.25." + new(big.Int).SetBytes(u[:]).String() }
