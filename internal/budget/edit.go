package budget

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Changes to budgets, their notifications, subscribers and actions. Each
// change validates the whole budget, stores it, and swaps its live state.

// install makes st the live state of its budget (replacing old, if any),
// loading its spend from the ledger when it has a new counter.
func (s *Service) install(ctx context.Context, old, st *state) {
	s.mu.Lock()
	s.budgets[bkey{st.b.Account, st.b.Name}] = st
	s.mu.Unlock()
	s.idx.replace(old, st)
	if old == nil || st.ctr != old.ctr {
		// Registered first, read second: every call admitted after the
		// registration is counted, by its ticket or by the ledger (a
		// call settling during the read counts twice: more, never less
		// than the truth). A call already in flight at the change, admitted
		// without this state, and durable only after the read is missed
		// until the next start.
		if err := s.loadSpend(ctx, []*state{st}, s.cfg.Now()); err != nil {
			s.log.Error("budget_spend_load_failed", "budget", st.b.Name, "err", err.Error())
		}
	} else if l := old.lim.Load(); l != nil {
		p := Period{time.Unix(0, l.start).UTC(), time.Unix(0, l.end).UTC()}
		st.lim.Store(st.limitsFor(p))
	}
	s.markDirty(st)
}

// Create creates a budget (with its notifications and actions).
func (s *Service) Create(ctx context.Context, b Budget) error {
	now := s.cfg.Now().UTC()
	b = b.Clone()
	if err := b.normalize(now, s.cfg.Catalog, s.cfg.Egress); err != nil {
		return err
	}
	b.CreatedAt, b.UpdatedAt = now.Truncate(time.Millisecond), now.Truncate(time.Millisecond)
	for i := range b.Actions {
		b.Actions[i].ID = newID()
	}
	sc, err := newScope(&b, s.cfg.Management, s.namer)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if len(s.Names(b.Account)) >= MaxBudgets {
		return errkind.New(errkind.QuotaExceeded, "The account has reached its limit of %d budgets.", MaxBudgets)
	}
	if err := s.cfg.Store.CreateBudget(ctx, b); err != nil {
		if errkind.Is(err, errkind.Conflict) {
			return errkind.Wrap(errkind.Conflict, err, "Error creating budget: %s - the budget already exists.", b.Name)
		}
		return err
	}
	s.install(ctx, nil, s.newState(&b, sc, &counter{}))
	return nil
}

// modify applies f to a copy of a budget, validates and stores the result
// and makes it live.
func (s *Service) modify(ctx context.Context, account, name string, f func(b *Budget) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	old, err := s.get(account, name)
	if err != nil {
		return err
	}
	b := old.b.Clone()
	if err := f(&b); err != nil {
		return err
	}
	now := s.cfg.Now().UTC()
	if err := b.normalize(now, s.cfg.Catalog, s.cfg.Egress); err != nil {
		return err
	}
	b.UpdatedAt = now.Truncate(time.Millisecond)
	sc, err := newScope(&b, s.cfg.Management, s.namer)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.UpdateBudget(ctx, b); err != nil {
		return err
	}
	st := s.newState(&b, sc, &counter{})
	if sameScope(old.b, &b) {
		st.ctr = old.ctr
		st.fc.Store(old.fc.Load())
	}
	s.install(ctx, old, st)
	return nil
}

// Update replaces a budget's definition (not its name, notifications or
// actions). Spend carries over when the scope and periods stay; otherwise
// it is read again from the ledger.
func (s *Service) Update(ctx context.Context, nb Budget) error {
	return s.modify(ctx, nb.Account, nb.Name, func(b *Budget) error {
		keep := *b
		*b = nb.Clone()
		b.Notifications, b.Actions, b.CreatedAt = keep.Notifications, keep.Actions, keep.CreatedAt
		if b.Start.IsZero() {
			b.Start = keep.Start
		}
		return nil
	})
}

// Delete deletes a budget with its notifications, subscribers and actions.
func (s *Service) Delete(ctx context.Context, account, name string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	old, err := s.get(account, name)
	if err != nil {
		return err
	}
	if err := s.cfg.Store.DeleteBudget(ctx, account, name); err != nil {
		return err
	}
	s.remove(old)
	return nil
}

// remove drops a deleted budget's live state and alert states.
func (s *Service) remove(st *state) {
	account, name := st.b.Account, st.b.Name
	s.mu.Lock()
	delete(s.budgets, bkey{account, name})
	s.mu.Unlock()
	s.idx.replace(st, nil)
	s.amu.Lock()
	for k := range s.alerts {
		if k.account == account && k.budget == name {
			delete(s.alerts, k)
		}
	}
	s.amu.Unlock()
}

func findNotification(b *Budget, n Notification) int {
	if n.ThresholdType == "" {
		n.ThresholdType = Percentage
	}
	return slices.IndexFunc(b.Notifications, func(x Notification) bool { return x.Key() == n.Key() })
}

func notificationNotFound(name string) error {
	return errkind.New(errkind.NotFound, "Unable to find the notification of budget %s.", name)
}

// CreateNotification adds a notification with its subscribers.
func (s *Service) CreateNotification(ctx context.Context, account, name string, n Notification) error {
	return s.modify(ctx, account, name, func(b *Budget) error {
		if err := n.normalize(); err != nil {
			return err
		}
		if findNotification(b, n) >= 0 {
			return errkind.New(errkind.Conflict, "The notification already exists on budget %s.", name)
		}
		if len(b.Notifications) >= MaxNotifications {
			return errkind.New(errkind.QuotaExceeded, "A budget can have at most %d notifications.", MaxNotifications)
		}
		b.Notifications = append(b.Notifications, n)
		return nil
	})
}

// UpdateNotification replaces notification old (identified by its type,
// operator, threshold and threshold type) by new, keeping its subscribers.
func (s *Service) UpdateNotification(ctx context.Context, account, name string, old, new Notification) error {
	return s.modify(ctx, account, name, func(b *Budget) error {
		i := findNotification(b, old)
		if i < 0 {
			return notificationNotFound(name)
		}
		if err := new.normalize(); err != nil {
			return err
		}
		if j := findNotification(b, new); j >= 0 && j != i {
			return errkind.New(errkind.Conflict, "The notification already exists on budget %s.", name)
		}
		new.Subscribers = b.Notifications[i].Subscribers
		b.Notifications[i] = new
		return nil
	})
}

// DeleteNotification removes a notification and its subscribers.
func (s *Service) DeleteNotification(ctx context.Context, account, name string, n Notification) error {
	return s.modify(ctx, account, name, func(b *Budget) error {
		i := findNotification(b, n)
		if i < 0 {
			return notificationNotFound(name)
		}
		b.Notifications = slices.Delete(b.Notifications, i, i+1)
		return nil
	})
}

// NotificationView is a notification with its state in the current
// period.
type NotificationView struct {
	Notification
	Alarm bool
}

// Notifications returns a budget's notifications with their states.
func (s *Service) Notifications(ctx context.Context, account, name string) ([]NotificationView, error) {
	v, err := s.Get(ctx, account, name)
	if err != nil {
		return nil, err
	}
	out := make([]NotificationView, len(v.Notifications))
	for i, n := range v.Notifications {
		out[i] = NotificationView{n, v.Alarm[n.Key()]}
	}
	return out, nil
}

// Subscribers returns a notification's subscribers.
func (s *Service) Subscribers(account, name string, n Notification) ([]Subscriber, error) {
	st, err := s.get(account, name)
	if err != nil {
		return nil, err
	}
	i := findNotification(st.b, n)
	if i < 0 {
		return nil, notificationNotFound(name)
	}
	return slices.Clone(st.b.Notifications[i].Subscribers), nil
}

// CreateSubscriber adds a subscriber to a notification.
func (s *Service) CreateSubscriber(ctx context.Context, account, name string, n Notification, sub Subscriber) error {
	return s.modify(ctx, account, name, func(b *Budget) error {
		i := findNotification(b, n)
		if i < 0 {
			return notificationNotFound(name)
		}
		if err := sub.validate(s.cfg.Egress); err != nil {
			return err
		}
		if slices.Contains(b.Notifications[i].Subscribers, sub) {
			return errkind.New(errkind.Conflict, "The subscriber already exists on this notification of budget %s.", name)
		}
		b.Notifications[i].Subscribers = append(b.Notifications[i].Subscribers, sub)
		return nil
	})
}

// UpdateSubscriber replaces a subscriber of a notification.
func (s *Service) UpdateSubscriber(ctx context.Context, account, name string, n Notification, old, new Subscriber) error {
	return s.modify(ctx, account, name, func(b *Budget) error {
		i := findNotification(b, n)
		if i < 0 {
			return notificationNotFound(name)
		}
		j := slices.Index(b.Notifications[i].Subscribers, old)
		if j < 0 {
			return errkind.New(errkind.NotFound, "Unable to find the subscriber of this notification of budget %s.", name)
		}
		if err := new.validate(s.cfg.Egress); err != nil {
			return err
		}
		if k := slices.Index(b.Notifications[i].Subscribers, new); k >= 0 && k != j {
			return errkind.New(errkind.Conflict, "The subscriber already exists on this notification of budget %s.", name)
		}
		b.Notifications[i].Subscribers[j] = new
		return nil
	})
}

// DeleteSubscriber removes a subscriber from a notification. A
// notification keeps at least one subscriber.
func (s *Service) DeleteSubscriber(ctx context.Context, account, name string, n Notification, sub Subscriber) error {
	return s.modify(ctx, account, name, func(b *Budget) error {
		i := findNotification(b, n)
		if i < 0 {
			return notificationNotFound(name)
		}
		j := slices.Index(b.Notifications[i].Subscribers, sub)
		if j < 0 {
			return errkind.New(errkind.NotFound, "Unable to find the subscriber of this notification of budget %s.", name)
		}
		if len(b.Notifications[i].Subscribers) == 1 {
			return errkind.New(errkind.Invalid, "A notification needs at least one subscriber: delete the notification instead.")
		}
		b.Notifications[i].Subscribers = slices.Delete(b.Notifications[i].Subscribers, j, j+1)
		return nil
	})
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// CreateAction adds an action to a budget and returns its ID.
func (s *Service) CreateAction(ctx context.Context, account, name string, a Action) (string, error) {
	a.ID = newID()
	err := s.modify(ctx, account, name, func(b *Budget) error {
		if len(b.Actions) >= MaxActions {
			return errkind.New(errkind.QuotaExceeded, "A budget can have at most %d actions.", MaxActions)
		}
		b.Actions = append(b.Actions, a)
		return nil
	})
	if err == nil {
		s.recordEdit(ctx, account, name, a.ID, "CREATE_ACTION", "Action created")
	}
	return a.ID, err
}

// recordEdit records a change of an action in its history (with the
// action as it now is).
func (s *Service) recordEdit(ctx context.Context, account, name, id, eventType, msg string) {
	st, err := s.get(account, name)
	if err != nil {
		return
	}
	status := StatusStandby
	if v := s.view(ctx, st, false); v.Enforcement[id].Status != "" {
		status = v.Enforcement[id].Status
	}
	for _, a := range st.b.Actions {
		if a.ID == id {
			s.record(ctx, st.b, a, status, eventType, msg, s.cfg.Now())
		}
	}
}

func actionNotFound(id string) error {
	return errkind.New(errkind.NotFound, "Unable to find the budget action %s.", id)
}

// UpdateAction replaces an action, keeping its ID, and returns the old
// and new versions.
func (s *Service) UpdateAction(ctx context.Context, account, name, id string, f func(a *Action) error) (Action, Action, error) {
	var before, after Action
	err := s.modify(ctx, account, name, func(b *Budget) error {
		i := slices.IndexFunc(b.Actions, func(a Action) bool { return a.ID == id })
		if i < 0 {
			return actionNotFound(id)
		}
		before = b.Actions[i]
		before.Subscribers = slices.Clone(before.Subscribers)
		if err := f(&b.Actions[i]); err != nil {
			return err
		}
		b.Actions[i].ID = id
		after = b.Actions[i]
		return nil
	})
	if err != nil {
		return Action{}, Action{}, err
	}
	st, _ := s.get(account, name)
	for _, a := range st.b.Actions {
		if a.ID == id {
			after = a
		}
	}
	s.recordEdit(ctx, account, name, id, "UPDATE_ACTION", "Action updated")
	return before, after, nil
}

// DeleteAction removes an action and returns it.
func (s *Service) DeleteAction(ctx context.Context, account, name, id string) (Action, error) {
	var gone Action
	err := s.modify(ctx, account, name, func(b *Budget) error {
		i := slices.IndexFunc(b.Actions, func(a Action) bool { return a.ID == id })
		if i < 0 {
			return actionNotFound(id)
		}
		gone = b.Actions[i]
		b.Actions = slices.Delete(b.Actions, i, i+1)
		return nil
	})
	if err == nil {
		if st, gerr := s.get(account, name); gerr == nil {
			s.record(ctx, st.b, gone, StatusStandby, "DELETE_ACTION", "Action deleted", s.cfg.Now())
		}
	}
	return gone, err
}

// AccountActions returns every action of the account's budgets, by budget
// name, with the budget name.
func (s *Service) AccountActions(account string) (names []string, actions []Action) {
	for _, st := range s.snapshot() {
		if st.b.Account != account {
			continue
		}
		for _, a := range st.b.Actions {
			names = append(names, st.b.Name)
			actions = append(actions, a)
		}
	}
	return names, actions
}
