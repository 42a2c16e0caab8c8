/* Hierarchical timing wheel: see timer_wheel.h for the design. */
#include "tcp/timer_wheel.h"

/* ---- Intrusive circular lists with a sentinel head ---- */

static inline void list_init(struct timer_node *head)
{
    head->next = head;
    head->prev = head;
    head->expires = 0;
}

static inline bool list_empty(const struct timer_node *head)
{
    return head->next == head;
}

static inline void list_insert_after(struct timer_node *pos, struct timer_node *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
}

static inline void list_append(struct timer_node *head, struct timer_node *n)
{
    list_insert_after(head->prev, n);
}

/* Leaves `n` zeroed links: "not armed". */
static inline void list_unlink(struct timer_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = NULL;
    n->prev = NULL;
}

/* ---- Where a node lives ---- */

/* Level of a node that expires after `cur`: the highest 6-bit digit in which
 * the two times differ. Requires expires != cur. */
static inline unsigned level_of(tcp_time_t expires, tcp_time_t cur)
{
    unsigned top_bit = 63u - (unsigned)__builtin_clzll(expires ^ cur);
    return top_bit / TIMER_WHEEL_SLOT_BITS;
}

static inline unsigned slot_of(tcp_time_t expires, unsigned level)
{
    return (unsigned)(expires >> (level * TIMER_WHEEL_SLOT_BITS)) & (TIMER_WHEEL_SLOTS - 1);
}

/* First microsecond covered by slot `slot` of level `level`, given the
 * cursor: cur's digits above the level, the slot's digit, zeros below. */
static inline tcp_time_t slot_start(tcp_time_t cur, unsigned level, unsigned slot)
{
    unsigned shift = level * TIMER_WHEEL_SLOT_BITS;
    unsigned above = shift + TIMER_WHEEL_SLOT_BITS;
    tcp_time_t upper = above >= 64 ? 0 : (cur >> above) << above;
    return upper | ((tcp_time_t)slot << shift);
}

static inline void earliest_slot(const struct timer_wheel *w, unsigned *level, unsigned *slot)
{
    *level = (unsigned)__builtin_ctz(w->level_map);
    *slot = (unsigned)__builtin_ctzll(w->slot_map[*level]);
}

/* Files a node with expires > cur at the tail of its slot, noting when the
 * slot stops being sorted. */
static inline void file_node(struct timer_wheel *w, struct timer_node *n, unsigned level, unsigned slot)
{
    struct timer_node *head = &w->slots[level][slot];
    uint64_t bit = UINT64_C(1) << slot;
    if (head->prev != head && head->prev->expires > n->expires) {
        w->slot_unsorted[level] |= bit;
        if (level == w->scanned_level && slot == w->scanned_slot)
            w->scanned_level = TIMER_WHEEL_LEVELS;
    }
    list_append(head, n);
    w->slot_map[level] |= bit;
    w->level_map |= 1u << level;
}

static inline void slot_emptied(struct timer_wheel *w, unsigned level, unsigned slot)
{
    uint64_t bit = UINT64_C(1) << slot;
    w->slot_map[level] &= ~bit;
    w->slot_unsorted[level] &= ~bit;
    if (w->slot_map[level] == 0)
        w->level_map &= ~(1u << level);
}

/* Keeps the due list sorted by expires. Arms at the cursor (the usual
 * "fire now") append in O(1), as do cascaded nodes; only an arm earlier than
 * something already due and not yet drained walks back. */
static void due_insert(struct timer_wheel *w, struct timer_node *n)
{
    struct timer_node *p = w->due.prev;
    if (p == &w->due || p->expires <= n->expires) {
        list_append(&w->due, n);
        return;
    }
    if (w->due.next->expires > n->expires) {
        list_insert_after(&w->due, n);
        return;
    }
    while (p->expires > n->expires)
        p = p->prev;
    list_insert_after(p, n);
}

/* ---- Sorting a slot (only ever the earliest one, when its minimum is
 * asked for and arms have made it unsorted) ---- */

/* Merges two NULL-terminated chains sorted by expires. */
static struct timer_node *chain_merge(struct timer_node *a, struct timer_node *b)
{
    struct timer_node head = {0}, *tail = &head;
    while (a != NULL && b != NULL) {
        if (b->expires < a->expires) {
            tail->next = b;
            b = b->next;
        } else {
            tail->next = a;
            a = a->next;
        }
        tail = tail->next;
    }
    tail->next = a != NULL ? a : b;
    return head.next;
}

/* Bottom-up merge sort of a NULL-terminated chain: bin[i] holds a sorted
 * chain of 2^i nodes, as in a binary counter. O(m log m), no recursion. */
static struct timer_node *chain_sort(struct timer_node *list)
{
    struct timer_node *bin[64] = {NULL};
    unsigned top = 0;
    while (list != NULL) {
        struct timer_node *run = list;
        list = list->next;
        run->next = NULL;
        unsigned i = 0;
        for (; i < 63 && bin[i] != NULL; i++) {
            run = chain_merge(bin[i], run);
            bin[i] = NULL;
        }
        bin[i] = chain_merge(bin[i], run);
        if (i > top)
            top = i;
    }
    struct timer_node *sorted = NULL;
    for (unsigned i = 0; i <= top; i++)
        sorted = chain_merge(bin[i], sorted);
    return sorted;
}

/* Sorts a non-empty slot list in O(k + m log m): nodes keep their sorted
 * prefix, the m nodes after its first descent are sorted and merged in. */
static void slot_sort(struct timer_node *head)
{
    struct timer_node *first = head->next;
    head->prev->next = NULL;
    struct timer_node *p = first;
    while (p->next != NULL && p->next->expires >= p->expires)
        p = p->next;
    struct timer_node *rest = p->next;
    p->next = NULL;
    struct timer_node *prev = head;
    for (struct timer_node *n = chain_merge(first, chain_sort(rest)); n != NULL; n = n->next) {
        prev->next = n;
        n->prev = prev;
        prev = n;
    }
    prev->next = head;
    head->prev = prev;
}

/* Exact minimum over the levels (which must not be empty). It lies in the
 * earliest slot: its head if the slot is sorted (a level-0 slot is one
 * microsecond, so always). An unsorted slot is scanned the first time; if
 * its minimum is asked for again with no out-of-order arm in between (its
 * earliest timers are being cancelled one by one), it is sorted instead, so
 * the cost is a scan or a sort per change of minimum, never a scan per
 * timer for long. The minimum and how many nodes share it are cached until
 * the last of those nodes leaves the levels. */
static tcp_time_t levels_minimum(struct timer_wheel *w)
{
    if (w->level_min_count > 0)
        return w->level_min;
    unsigned level, slot;
    earliest_slot(w, &level, &slot);
    struct timer_node *head = &w->slots[level][slot];
    uint64_t bit = UINT64_C(1) << slot;
    tcp_time_t min = head->next->expires;
    size_t count = 0;
    if ((w->slot_unsorted[level] & bit) && (level != w->scanned_level || slot != w->scanned_slot)) {
        w->scanned_level = (uint8_t)level;
        w->scanned_slot = (uint8_t)slot;
        for (const struct timer_node *n = head->next; n != head; n = n->next) {
            if (n->expires < min) {
                min = n->expires;
                count = 1;
            } else if (n->expires == min) {
                count++;
            }
        }
    } else {
        if (w->slot_unsorted[level] & bit) {
            slot_sort(head);
            w->slot_unsorted[level] &= ~bit;
            w->scanned_level = TIMER_WHEEL_LEVELS;
            min = head->next->expires;
        }
        for (const struct timer_node *n = head->next; n != head && n->expires == min; n = n->next)
            count++;
    }
    w->level_min = min;
    w->level_min_count = count;
    return min;
}

/* ---- API ---- */

void timer_wheel_init(struct timer_wheel *w, tcp_time_t now)
{
    w->cur = now;
    w->count = 0;
    w->level_map = 0;
    w->level_min = TCP_TIME_NEVER;
    w->level_min_count = 0;
    w->scanned_level = TIMER_WHEEL_LEVELS;
    w->scanned_slot = 0;
    list_init(&w->due);
    for (unsigned l = 0; l < TIMER_WHEEL_LEVELS; l++) {
        w->slot_map[l] = 0;
        w->slot_unsorted[l] = 0;
        for (unsigned s = 0; s < TIMER_WHEEL_SLOTS; s++)
            list_init(&w->slots[l][s]);
    }
}

void timer_cancel(struct timer_wheel *w, struct timer_node *n)
{
    if (!timer_armed(n))
        return;
    w->count--;
    tcp_time_t e = n->expires;
    if (e <= w->cur) { /* on the due list */
        list_unlink(n);
        return;
    }
    /* The cursor only moves in ways that keep every node in the levels at
     * level_of(expires, cur) (see timer_expire_next), so we can find the
     * slot again without storing it. */
    unsigned level = level_of(e, w->cur);
    unsigned slot = slot_of(e, level);
    list_unlink(n);
    if (list_empty(&w->slots[level][slot]))
        slot_emptied(w, level, slot);
    if (w->level_min_count > 0 && e == w->level_min)
        w->level_min_count--;
}

void timer_arm(struct timer_wheel *w, struct timer_node *n, tcp_time_t expires)
{
    timer_cancel(w, n);
    n->expires = expires;
    w->count++;
    if (expires <= w->cur) {
        due_insert(w, n);
        return;
    }
    unsigned level = level_of(expires, w->cur);
    unsigned slot = slot_of(expires, level);
    /* Keep the cached minimum of the levels: a node filed before the
     * earliest occupied slot is the new unique minimum. */
    bool before_all = w->level_map == 0;
    if (!before_all) {
        unsigned l0, s0;
        earliest_slot(w, &l0, &s0);
        before_all = level < l0 || (level == l0 && slot < s0);
    }
    if (before_all) {
        w->level_min = expires;
        w->level_min_count = 1;
    } else if (w->level_min_count > 0) {
        if (expires < w->level_min) {
            w->level_min = expires;
            w->level_min_count = 1;
        } else if (expires == w->level_min) {
            w->level_min_count++;
        }
    }
    file_node(w, n, level, slot);
}

/* Moves the cursor to `start`, the first microsecond of the earliest slot,
 * and re-files that slot's nodes against it: nodes due exactly at `start`
 * go to the (empty) due list, the rest to lower levels. Every other node
 * keeps its level and slot: they all differ from the old cursor at a digit
 * at or above `level`, and `start` agrees with the old cursor there. */
static void cascade(struct timer_wheel *w, unsigned level, unsigned slot, tcp_time_t start)
{
    struct timer_node *head = &w->slots[level][slot];
    struct timer_node *first = head->next, *last = head->prev;
    list_init(head);
    slot_emptied(w, level, slot);
    w->cur = start;

    if (level == 0) { /* one microsecond: splice the whole slot */
        first->prev = &w->due;
        last->next = &w->due;
        w->due.next = first;
        w->due.prev = last;
        w->level_min_count = 0; /* those were the minimum */
        return;
    }
    bool moved_to_due = false;
    for (struct timer_node *n = first, *next; n != head; n = next) {
        next = n->next;
        if (n->expires == start) {
            list_append(&w->due, n);
            moved_to_due = true;
        } else {
            unsigned l = level_of(n->expires, start);
            file_node(w, n, l, slot_of(n->expires, l));
        }
    }
    if (moved_to_due) /* they were all the nodes at the minimum */
        w->level_min_count = 0;
}

struct timer_node *timer_expire_next(struct timer_wheel *w, tcp_time_t now)
{
    for (;;) {
        if (!list_empty(&w->due)) {
            struct timer_node *n = w->due.next;
            if (n->expires > now)
                return NULL;
            list_unlink(n);
            w->count--;
            return n;
        }
        if (w->level_map == 0) {
            if (now > w->cur)
                w->cur = now;
            return NULL;
        }
        unsigned level, slot;
        earliest_slot(w, &level, &slot);
        tcp_time_t start = slot_start(w->cur, level, slot);
        if (start > now) {
            /* Nothing due. Moving the cursor up to `now` keeps every node
             * where it is: cur <= now < start, so `now` shares cur's digits
             * above `level` and its digit at `level` is below `slot`. */
            if (now > w->cur)
                w->cur = now;
            return NULL;
        }
        cascade(w, level, slot, start);
    }
}

tcp_time_t timer_next_deadline(const struct timer_wheel *w)
{
    if (!list_empty(&w->due))
        return w->due.next->expires;
    if (w->level_map == 0)
        return TCP_TIME_NEVER;
    /* Logically const, like a C++ `mutable` cache: finding the minimum may
     * sort the earliest slot and remember the result, which no caller can
     * observe. Defined because no timer_wheel is ever defined const. */
    return levels_minimum((struct timer_wheel *)w);
}
