package queue

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// receiptVersion opens every receipt, so that a later layout can be told
// from this one.
const receiptVersion = 1

// macSize is the length of a receipt's HMAC-SHA256 tag, truncated to 128
// bits (RFC 2104 allows truncation to half the hash).
const macSize = 16

// maxReceiptLen bounds a receipt as a client sends it, before any
// decoding: a group, a topic and a URL at their limits fit well within.
const maxReceiptLen = 2048

// receiptDomain separates receipt tags from any other use of the key.
var receiptDomain = []byte("kafkakit queue receipt v1\x00")

// receipt is what a client hands back to acknowledge one leased record:
// which record and delivery, which group, where the lease is held and
// until when. It is signed, so a client can neither make one up nor change
// one, and bound to its group.
type receipt struct {
	// instance is the serving process that holds the lease, chosen at
	// random when it starts: a restarted replica does not take its
	// earlier self's receipts for its own.
	instance uint64
	// member is the holder's local number of the share-group member that
	// fetched the record.
	member        uint64
	partition     int32
	deliveryCount int32
	offset        int64
	// deadline is the lease's end as the receipt was issued, in Unix
	// milliseconds; a renewal moves the lease, not this field.
	deadline int64
	group    string
	topic    string
	// holder is the base URL of the replica holding the lease
	// (HTTP_ADVERTISED_URL), "" when that replica has none.
	holder string
}

// errBadReceipt is every way a receipt fails to decode or verify: a client
// learns no more than that it is not a receipt this cluster issued.
var errBadReceipt = errors.New("not a receipt issued by this service: it does not decode or its signature does not match")

// signer signs and verifies receipts with one key, which every replica of
// the service must share for any of them to accept another's receipts.
type signer struct{ key []byte }

// encode returns the receipt as an opaque URL-safe string.
func (s signer) encode(r receipt) string {
	b := make([]byte, 0, 64+len(r.group)+len(r.topic)+len(r.holder))
	b = append(b, receiptVersion)
	b = binary.BigEndian.AppendUint64(b, r.instance)
	b = binary.AppendUvarint(b, r.member)
	b = binary.BigEndian.AppendUint32(b, uint32(r.partition))
	b = binary.BigEndian.AppendUint32(b, uint32(r.deliveryCount))
	b = binary.BigEndian.AppendUint64(b, uint64(r.offset))
	b = binary.BigEndian.AppendUint64(b, uint64(r.deadline))
	for _, str := range []string{r.group, r.topic, r.holder} {
		b = binary.AppendUvarint(b, uint64(len(str)))
		b = append(b, str...)
	}
	b = append(b, s.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(receiptDomain)
	m.Write(payload)
	return m.Sum(nil)[:macSize]
}

// decode verifies and reads a receipt. The tag is checked before any field
// is read, in constant time.
func (s signer) decode(text string) (receipt, error) {
	if len(text) > maxReceiptLen {
		return receipt{}, errBadReceipt
	}
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(b) < 1+macSize {
		return receipt{}, errBadReceipt
	}
	payload, tag := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(tag, s.mac(payload)) || payload[0] != receiptVersion {
		return receipt{}, errBadReceipt
	}
	d := decoder{b: payload[1:]}
	r := receipt{instance: d.u64()}
	r.member = d.uvarint()
	r.partition = int32(d.u32())
	r.deliveryCount = int32(d.u32())
	r.offset = int64(d.u64())
	r.deadline = int64(d.u64())
	r.group, r.topic, r.holder = d.str(), d.str(), d.str()
	if d.bad || len(d.b) != 0 {
		return receipt{}, errBadReceipt
	}
	return r, nil
}

// deadlineTime is the lease's end the receipt was issued with.
func (r receipt) deadlineTime() time.Time { return time.UnixMilli(r.deadline) }

// decoder reads a receipt's payload; a short read sets bad and yields
// zeros, so decode checks once at the end.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) take(n int) []byte {
	if d.bad || n < 0 || len(d.b) < n {
		d.bad = true
		return make([]byte, max(n, 0))
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u32() uint32 { return binary.BigEndian.Uint32(d.take(4)) }
func (d *decoder) u64() uint64 { return binary.BigEndian.Uint64(d.take(8)) }

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > maxReceiptLen {
		d.bad = true
		return ""
	}
	return string(d.take(int(n)))
}
