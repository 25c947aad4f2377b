package alarm

import (
	"sort"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Gate enforces the Tollgate actions of alarms in the state that lists
// them: calls counted under a ModelId an alarm watches are throttled or
// refused. Safe for concurrent use.
type Gate struct {
	mu    sync.Mutex
	rules map[gateKey][]gateRule
	used  map[string]*window // per alarm rule: calls let through this minute
}

type gateKey struct {
	account string
	modelID string // "" = every call of the account
}

type gateRule struct {
	alarm     string
	kind      string // ActionThrottle or ActionDisable
	perMinute int
}

type window struct {
	minute int64
	n      int
}

func newGate() *Gate {
	return &Gate{rules: map[gateKey][]gateRule{}, used: map[string]*window{}}
}

// set replaces the rules with those of alarms (normalize maps a ModelId
// dimension value to the value calls are counted under).
func (g *Gate) set(alarms []*Alarm, normalize func(string) string) {
	rules := map[gateKey][]gateRule{}
	for _, a := range alarms {
		if !a.ActionsEnabled {
			continue
		}
		key := gateKey{account: a.Account}
		for _, d := range a.Dimensions {
			if d.Name == "ModelId" {
				key.modelID = normalize(d.Value)
			}
		}
		for _, s := range a.Actions(a.State) {
			act, err := ParseAction(s)
			if err != nil || (act.Kind != ActionThrottle && act.Kind != ActionDisable) {
				continue
			}
			rules[key] = append(rules[key], gateRule{alarm: a.Name, kind: act.Kind, perMinute: act.PerMinute})
		}
	}
	for k := range rules {
		sort.Slice(rules[k], func(i, j int) bool { return rules[k][i].alarm < rules[k][j].alarm })
	}
	g.mu.Lock()
	g.rules = rules
	g.mu.Unlock()
}

// Check decides whether a call of account counted under modelID (the
// profile id, or the model id for a direct call) may run at now. It
// returns an errkind.Denied error for a disabled target, an
// errkind.Throttled error for a throttled one, or nil.
func (g *Gate) Check(account, modelID string, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.rules) == 0 {
		return nil
	}
	minute := now.Unix() / 60
	for _, key := range [2]gateKey{{account, modelID}, {account, ""}} {
		for _, r := range g.rules[key] {
			switch r.kind {
			case ActionDisable:
				if key.modelID == "" {
					return errkind.New(errkind.Denied, "Model invocation is disabled for this account by alarm %s.", r.alarm)
				}
				return errkind.New(errkind.Denied, "Model invocation through %s is disabled by alarm %s.", key.modelID, r.alarm)
			case ActionThrottle:
				id := key.account + "\x00" + key.modelID + "\x00" + r.alarm
				w := g.used[id]
				if w == nil || w.minute != minute {
					w = &window{minute: minute}
					g.used[id] = w
				}
				if w.n >= r.perMinute {
					return errkind.New(errkind.Throttled, "Too many requests, please wait before trying again. (alarm %s limits this model to %d calls a minute)", r.alarm, r.perMinute)
				}
				w.n++
			}
		}
	}
	return nil
}
