//! What a group offers one member: `offer` over shared batches.

use super::*;

struct Unused;

impl Render for Unused {
    fn render(&self, _: Arc<AuditEntry>) -> BoxFuture<'static, Arc<str>> {
        unreachable!("offering renders nothing")
    }
}

fn member(last: i64, queue: usize) -> (Member, mpsc::Receiver<Delivery>) {
    let (sink, deliveries) = mpsc::channel(queue);
    let member = Member {
        id: 7,
        sink,
        cancel: CancellationToken::new(),
        render: Arc::new(Unused),
        key: Arc::new(GroupKey {
            environment_id: "env".into(),
            shape: "shape".into(),
        }),
        last,
        _counted: Counted(Arc::new(AtomicUsize::new(1))),
    };
    (member, deliveries)
}

fn batch(sequences: &[i64]) -> Arc<Batch> {
    Batch::new(
        sequences
            .iter()
            .map(|s| (*s, Arc::from(format!("entry {s}"))))
            .collect(),
    )
}

fn received(delivery: &Delivery) -> Vec<&str> {
    delivery.payloads().collect()
}

#[test]
fn a_member_receives_the_entries_of_a_batch_after_its_last_once() {
    let (mut member, mut deliveries) = member(12, 4);
    let batch = batch(&[11, 12, 13, 14]);
    assert!(matches!(offer(&mut member, &batch), Offer::Taken));
    assert_eq!(member.last, 14);
    let delivery = deliveries.try_recv().expect("one delivery");
    assert_eq!(delivery.member, 7);
    assert_eq!(delivery.entry_count(), 2);
    assert_eq!(received(&delivery), ["entry 13", "entry 14"]);
    // Offered again (a member that has it all): nothing is queued.
    assert!(matches!(offer(&mut member, &batch), Offer::Taken));
    assert!(deliveries.try_recv().is_err());
}

#[test]
fn a_full_queue_leaves_the_member_where_it_was_and_a_closed_one_is_gone() {
    let (mut member, deliveries) = member(0, 1);
    assert!(matches!(offer(&mut member, &batch(&[1, 2])), Offer::Taken));
    assert!(matches!(offer(&mut member, &batch(&[3])), Offer::Full));
    assert_eq!(member.last, 2, "the table serves it from 3");
    drop(deliveries);
    assert!(matches!(offer(&mut member, &batch(&[3])), Offer::Gone));
}

#[test]
fn entries_go_out_in_batches_of_at_most_batch_entries_in_order() {
    let entries = (1..=40).map(|s| (s, Arc::from(format!("entry {s}"))));
    let batches: Vec<Vec<i64>> = Batch::all_of(entries)
        .map(|b| b.entries.iter().map(|(s, _)| *s).collect())
        .collect();
    assert_eq!(
        batches,
        [
            (1..=16).collect::<Vec<_>>(),
            (17..=32).collect(),
            (33..=40).collect()
        ]
    );
    assert_eq!(Batch::all_of(Vec::new()).count(), 0);
}
