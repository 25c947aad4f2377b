package main

import (
	"context"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
)

// followDebounce is how long a burst of change notifications is coalesced
// before the in-memory indexes reload.
const followDebounce = 50 * time.Millisecond

// Which in-memory indexes a change kind invalidates.
const (
	reloadProfiles uint8 = 1 << iota
	reloadDirectory
	reloadBudgets
	reloadAlarms
	returnAllowance // not a reload: give back idle budget allowance
)

func reloadsFor(kind string) uint8 {
	switch kind {
	case sqlstore.ChangeProfile:
		return reloadProfiles
	case sqlstore.ChangePrincipal, sqlstore.ChangeAccessKey, sqlstore.ChangeAPIKey,
		sqlstore.ChangeAccount, sqlstore.ChangePolicy, sqlstore.ChangeAttachment:
		return reloadDirectory
	case sqlstore.ChangeBudget:
		return reloadBudgets
	case sqlstore.ChangeAlarm:
		return reloadAlarms
	case sqlstore.ChangeAllowance:
		return returnAllowance
	case sqlstore.ChangeAnomaly:
		return 0 // monitors and subscriptions are read from the store
	default: // sqlstore.ChangeTick, and kinds of a newer release
		return reloadProfiles | reloadDirectory | reloadBudgets | reloadAlarms
	}
}

// followChanges makes the in-memory indexes (profiles and their tags, and
// through the profiles' OnChange the budgets' scope map; principals, keys,
// accounts and policies; budgets; alarms) follow the changes other
// replicas commit to a shared store: it watches the store's change feed
// (Store.Watch: on PostgreSQL its notifications and reconciliation ticks;
// on SQLite, one node, only its own allowance announcements) and reloads
// what changed, coalescing bursts within followDebounce. It returns when
// ctx is done, after the feed's watcher has.
func (m *Main) followChanges(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		pending uint8
		wake    = make(chan struct{}, 1)
		wg      sync.WaitGroup
	)
	var watchErr error
	wg.Go(func() {
		defer cancel() // a feed that ends stops the follower too
		watchErr = m.DB.Watch(ctx, func(kind string) {
			mu.Lock()
			pending |= reloadsFor(kind)
			mu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
		})
	})
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
			}
			t := time.NewTimer(followDebounce)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			mu.Lock()
			what := pending
			pending = 0
			mu.Unlock()
			if what&reloadProfiles != 0 {
				if err := m.Profiles.Reload(ctx); err != nil && ctx.Err() == nil {
					m.Logger.Warn("reload_profiles_failed", "err", err.Error())
				}
				if err := m.Tiers.Reload(ctx); err != nil && ctx.Err() == nil {
					m.Logger.Warn("reload_profile_tiers_failed", "error", err.Error())
				}
			}
			if what&reloadDirectory != 0 {
				if err := m.Directory.Reload(ctx); err != nil && ctx.Err() == nil {
					m.Logger.Warn("reload_directory_failed", "err", err.Error())
				}
			}
			if what&reloadBudgets != 0 {
				if err := m.Budgets.Service.Reload(ctx); err != nil && ctx.Err() == nil {
					m.Logger.Warn("reload_budgets_failed", "err", err.Error())
				}
			}
			if what&reloadAlarms != 0 {
				if err := m.Watch.Alarms.Reload(ctx); err != nil && ctx.Err() == nil {
					m.Logger.Warn("reload_alarms_failed", "err", err.Error())
				}
			}
			if what&returnAllowance != 0 {
				m.Budgets.Service.ReturnIdle(ctx, true)
			}
		}
	})
	wg.Wait()
	return watchErr
}
