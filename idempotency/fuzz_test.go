package idempotency

import (
	"container/list"
	"strings"
	"testing"
	"time"
)

// FuzzIdempotencyRecord feeds records of the store's topic, as any client
// could write them, to the decoder and then to a store: nothing panics, a
// record that decodes names its key and a known state, and the store stays
// within its bounds, its byte count the sum of its entries'.
func FuzzIdempotencyRecord(f *testing.F) {
	claim := strings.Repeat("c", 32)
	for _, seed := range []struct{ key, value string }{
		{"-\x00k\x00" + claim, `{"claim":"` + claim + `","fp":"f","state":"claimed"}`},
		{"-\x00k\x00" + claim, `{"claim":"` + claim + `","fp":"f","state":"done","status":200,"body":"e30="}`},
		{"-\x00k\x00" + claim, `{"claim":"` + claim + `","fp":"f","state":"released"}`},
		{"", `{"claim":"abcdef","state":"claimed"}`},
		{"abc", `{"claim":"abcdef","state":"claimed"}`},
		{"abcdef", `{"claim":"abcdef","state":"done","status":200}`},
		{"-\x00k\x00", ``},
		{"-\x00k\x00", `garbage`},
		{"-\x00k\x00", `{"claim":7}`},
		{"-\x00k\x00" + claim, `{"claim":"` + claim + `","state":"done","status":99999}`},
		{"-\x00k\x00" + claim, `{"claim":"` + claim + `","state":"done","status":200,"body":"!"}`},
		{"-\x00k\x00" + claim, `{"claim":"` + claim + `","state":"\u0000"}`},
	} {
		f.Add([]byte(seed.key), []byte(seed.value), int64(0))
	}
	f.Fuzz(func(t *testing.T, key, value []byte, age int64) {
		k, v, err := decodeIdemRecord(key, value)
		if err != nil {
			return
		}
		if k+v.Claim != string(key) || k == "" || v.Claim == "" {
			t.Fatalf("decoded key %q and claim %q from key %q", k, v.Claim, key)
		}
		switch v.State {
		case stateClaimed, stateDone, stateReleased:
		default:
			t.Fatalf("decoded unknown state %q", v.State)
		}
		s := &Store{ttl: time.Hour, lease: time.Minute, opts: storeOptions{maxKeys: 2, maxBytes: 1 << 20}, entries: map[string]*list.Element{}}
		now := time.Now()
		for i, at := range []time.Time{now.Add(time.Duration(age)), now, now} {
			d := decoded{key: k, v: v, at: at}
			if i == 2 {
				d.key = k + "other"
			}
			s.apply(d, now)
		}
		var bytes int64
		for el := s.order.Front(); el != nil; el = el.Next() {
			bytes += el.Value.(*idemEntry).size()
		}
		if len(s.entries) > 2 || len(s.entries) != s.order.Len() || bytes != s.bytes {
			t.Fatalf("%d entries, %d in order, %d bytes counted, %d held", len(s.entries), s.order.Len(), s.bytes, bytes)
		}
	})
}
