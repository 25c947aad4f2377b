package sqlstore

import (
	"encoding/binary"
	"errors"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// The ledger journal's body encoding, shared by both stores' journals
// (internal/store/sqlite/journal.go, internal/store/postgres/journal.go):
// one body holds one commit group (one AppendRecords call).

const (
	// JournalFormat is the first byte of every journal body: the
	// encoding's version. Format 2 added each record's Calls after its
	// integers; format 3 its Units, UnitCost and UnitKind after Calls.
	// Bodies of formats 1 and 2 (left by a crash before an upgrade) still
	// decode, their records standing for one call each (format 1) and
	// having no units (1 and 2).
	JournalFormat  = 3
	JournalFormat2 = 2
	JournalFormat1 = 1
)

// The journal encoding of a commit group: the format byte, the number of
// records, then each record's fields in a fixed order. Integers are
// varints (zig-zag for signed); a string is a uvarint n: n = 0 is a new
// literal (uvarint length, bytes), which also takes the next index of the
// group's string table unless the field is never repeated (the request
// id); n > 0 is the table's string n-1. Account, ARNs, model, tag keys and
// values repeat across a group's records, so each is written once.

// JournalEncoder encodes commit groups. Encode reuses its buffer, so an
// encoder serves one goroutine at a time; stores keep them in a
// sync.Pool between appends. The zero value is ready to use.
type JournalEncoder struct {
	buf  []byte
	strs map[string]uint64
}

// maxPooledBody is the largest body buffer an encoder keeps.
const maxPooledBody = 1 << 20

// Encode returns the journal body of recs, valid until the next Encode.
func (e *JournalEncoder) Encode(recs []ledger.Record) []byte {
	if e.strs == nil {
		e.strs = map[string]uint64{}
	}
	clear(e.strs)
	if cap(e.buf) > maxPooledBody {
		e.buf = nil
	}
	e.buf = append(e.buf[:0], JournalFormat)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(recs)))
	for i := range recs {
		r := &recs[i]
		e.lit(r.RequestID)
		e.buf = binary.AppendVarint(e.buf, MS(r.Time))
		for _, s := range [...]string{r.Account, r.Region, r.RegionServed, r.PrincipalID, r.ProfileARN, r.ProfileID,
			r.ModelID, r.Provider, r.Operation, r.ServiceTier, r.Scope, r.Outcome, r.ErrorCode, r.PriceVersion} {
			e.str(s)
		}
		var flags byte
		if r.LongContext {
			flags |= 1
		}
		if r.LatencyOptimized {
			flags |= 2
		}
		if r.Priced {
			flags |= 4
		}
		e.buf = append(e.buf, flags)
		for _, v := range [...]int64{r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.CacheWrite1hTokens,
			r.LatencyMs, r.TTFTMs, int64(r.Attempts), int64(r.Cost), int64(r.InputCost), int64(r.OutputCost),
			int64(r.CacheReadCost), int64(r.CacheWriteCost), int64(r.CacheWrite1hCost), int64(r.FixedCost), r.Calls,
			r.Units, int64(r.UnitCost)} {
			e.buf = binary.AppendVarint(e.buf, v)
		}
		e.str(r.UnitKind)
		e.buf = binary.AppendUvarint(e.buf, uint64(len(r.Tags)))
		for k, v := range r.Tags {
			e.str(k)
			e.str(v)
		}
	}
	return e.buf
}

// lit writes s as a literal that does not enter the string table.
func (e *JournalEncoder) lit(s string) {
	e.buf = append(e.buf, 0)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// str writes s, as a reference when the group has written it before.
func (e *JournalEncoder) str(s string) {
	if i, ok := e.strs[s]; ok {
		e.buf = binary.AppendUvarint(e.buf, i+1)
		return
	}
	e.strs[s] = uint64(len(e.strs))
	e.lit(s)
}

// ErrJournal is a journal body that does not decode.
var ErrJournal = errors.New("malformed journal body")

// journalDecoder reads a journal body.
type journalDecoder struct {
	b    []byte
	strs []string
	err  error
	// intern, when not nil, shares one copy of each table string among
	// the bodies one transaction decodes.
	intern map[string]string
}

func (d *journalDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = ErrJournal, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *journalDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = ErrJournal, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// str reads a string; table says whether a literal enters the table.
func (d *journalDecoder) str(table bool) string {
	n := d.uvarint()
	if n > 0 {
		if n > uint64(len(d.strs)) {
			d.err, d.b = ErrJournal, nil
			return ""
		}
		return d.strs[n-1]
	}
	l := d.uvarint()
	if l > uint64(len(d.b)) {
		d.err, d.b = ErrJournal, nil
		return ""
	}
	var s string
	if !table || d.intern == nil {
		s = string(d.b[:l])
	} else if v, ok := d.intern[string(d.b[:l])]; ok {
		s = v
	} else {
		s = string(d.b[:l])
		d.intern[s] = s
	}
	d.b = d.b[l:]
	if table {
		d.strs = append(d.strs, s)
	}
	return s
}

// DecodeJournal appends the records of a journal body to recs. intern,
// if not nil, holds the strings of bodies decoded before, to share.
func DecodeJournal(body []byte, recs []ledger.Record, intern map[string]string) ([]ledger.Record, error) {
	if len(body) == 0 || (body[0] != JournalFormat && body[0] != JournalFormat2 && body[0] != JournalFormat1) {
		return recs, ErrJournal
	}
	withCalls, withUnits := body[0] != JournalFormat1, body[0] == JournalFormat
	d := journalDecoder{b: body[1:], intern: intern}
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) { // every record takes more than a byte
		return recs, ErrJournal
	}
	for range n {
		var r ledger.Record
		r.RequestID = d.str(false)
		r.Time = FromMS(d.varint())
		for _, p := range [...]*string{&r.Account, &r.Region, &r.RegionServed, &r.PrincipalID, &r.ProfileARN, &r.ProfileID,
			&r.ModelID, &r.Provider, &r.Operation, &r.ServiceTier, &r.Scope, &r.Outcome, &r.ErrorCode, &r.PriceVersion} {
			*p = d.str(true)
		}
		if len(d.b) == 0 {
			return recs, ErrJournal
		}
		flags := d.b[0]
		d.b = d.b[1:]
		r.LongContext, r.LatencyOptimized, r.Priced = flags&1 != 0, flags&2 != 0, flags&4 != 0
		var attempts int64
		for _, p := range [...]*int64{&r.InputTokens, &r.OutputTokens, &r.CacheReadTokens, &r.CacheWriteTokens, &r.CacheWrite1hTokens,
			&r.LatencyMs, &r.TTFTMs, &attempts, (*int64)(&r.Cost), (*int64)(&r.InputCost), (*int64)(&r.OutputCost),
			(*int64)(&r.CacheReadCost), (*int64)(&r.CacheWriteCost), (*int64)(&r.CacheWrite1hCost), (*int64)(&r.FixedCost)} {
			*p = d.varint()
		}
		if withCalls {
			r.Calls = d.varint()
		}
		if withUnits {
			r.Units = d.varint()
			r.UnitCost = money.Amount(d.varint())
			r.UnitKind = d.str(true)
		}
		r.Attempts = int(attempts)
		if nt := d.uvarint(); nt > 0 {
			if nt > uint64(len(d.b)) {
				return recs, ErrJournal
			}
			r.Tags = make(tags.Set, nt)
			for range nt {
				k := d.str(true)
				r.Tags[k] = d.str(true)
			}
		}
		if d.err != nil {
			return recs, d.err
		}
		recs = append(recs, r)
	}
	if len(d.b) != 0 {
		return recs, ErrJournal
	}
	return recs, nil
}
