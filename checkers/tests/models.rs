//! Each model accepts a legal history and reports a violation in an illegal one.

use checkers::format::{Format, read_history};
use checkers::{ModelKind, Options, Verdict, check};

/// Checks an EDN history (one op map per line) against a model.
fn verdict(model: ModelKind, initial: Option<&str>, edn: &str) -> Verdict {
    let history = read_history(edn.as_bytes(), Format::Edn).expect("parse");
    let mut opts = Options::new(model);
    opts.initial = initial.map(|i| checkers::format::parse_value(i).expect("initial"));
    let report = check(&history, &opts).expect("check");
    if report.verdict == Verdict::Invalid {
        let text = report.to_text();
        assert!(text.contains("cannot linearize"), "{text}");
    }
    report.verdict
}

#[test]
fn register() {
    let ok = r#"{:process 0 :type :invoke :f :write :value 1}
                {:process 1 :type :invoke :f :read :value nil}
                {:process 1 :type :ok :f :read :value 1}
                {:process 0 :type :ok :f :write :value 1}"#;
    assert_eq!(verdict(ModelKind::Register, Some("0"), ok), Verdict::Valid);
    let stale = r#"{:process 0 :type :invoke :f :write :value 1}
                   {:process 0 :type :ok :f :write :value 1}
                   {:process 1 :type :invoke :f :read :value nil}
                   {:process 1 :type :ok :f :read :value 0}"#;
    assert_eq!(verdict(ModelKind::Register, Some("0"), stale), Verdict::Invalid);
}

#[test]
fn cas_register_and_failed_writes() {
    let ok = r#"{:process 0 :type :invoke :f :cas :value [0 2]}
                {:process 0 :type :ok :f :cas :value [0 2]}
                {:process 1 :type :invoke :f :write :value 5}
                {:process 1 :type :fail :f :write :value 5}
                {:process 2 :type :invoke :f :read :value nil}
                {:process 2 :type :ok :f :read :value 2}"#;
    assert_eq!(verdict(ModelKind::CasRegister, Some("0"), ok), Verdict::Valid);
    // a failed write never happened, so nobody may read it
    let seen_fail = r#"{:process 1 :type :invoke :f :write :value 5}
                       {:process 1 :type :fail :f :write :value 5}
                       {:process 2 :type :invoke :f :read :value nil}
                       {:process 2 :type :ok :f :read :value 5}"#;
    assert_eq!(verdict(ModelKind::CasRegister, Some("0"), seen_fail), Verdict::Invalid);
    // but an info write may take effect at any later time
    let seen_info = r#"{:process 1 :type :invoke :f :write :value 5}
                       {:process 1 :type :info :f :write :value 5}
                       {:process 2 :type :invoke :f :read :value nil}
                       {:process 2 :type :ok :f :read :value 5}"#;
    assert_eq!(verdict(ModelKind::CasRegister, Some("0"), seen_info), Verdict::Valid);
    // a cas that succeeded from a value the register never held
    let bad_cas = r#"{:process 0 :type :invoke :f :cas :value [3 4]}
                     {:process 0 :type :ok :f :cas :value [3 4]}"#;
    assert_eq!(verdict(ModelKind::CasRegister, Some("0"), bad_cas), Verdict::Invalid);
}

#[test]
fn cas_that_returned_false_asserts_a_different_value() {
    // Porcupine's semantics: the cas ran and found the register not holding 0
    let h = r#"{:process 0 :type :invoke :f :cas :value [0 1]}
               {:process 0 :type :ok :f :cas :value false}"#;
    assert_eq!(verdict(ModelKind::CasRegister, Some("0"), h), Verdict::Invalid);
    assert_eq!(verdict(ModelKind::CasRegister, Some("7"), h), Verdict::Valid);
}

#[test]
fn kv() {
    let ok = r#"{:process 0 :type :invoke :f :append :key "k" :value "a"}
                {:process 0 :type :ok :f :append :key "k" :value "a"}
                {:process 0 :type :invoke :f :append :key "k" :value "b"}
                {:process 1 :type :invoke :f :get :key "k" :value nil}
                {:process 1 :type :ok :f :get :key "k" :value "ab"}
                {:process 0 :type :ok :f :append :key "k" :value "b"}"#;
    assert_eq!(verdict(ModelKind::Kv, None, ok), Verdict::Valid);
    let reordered = r#"{:process 0 :type :invoke :f :append :key "k" :value "a"}
                       {:process 0 :type :ok :f :append :key "k" :value "a"}
                       {:process 0 :type :invoke :f :append :key "k" :value "b"}
                       {:process 0 :type :ok :f :append :key "k" :value "b"}
                       {:process 1 :type :invoke :f :get :key "k" :value nil}
                       {:process 1 :type :ok :f :get :key "k" :value "ba"}"#;
    assert_eq!(verdict(ModelKind::Kv, None, reordered), Verdict::Invalid);
}

#[test]
fn multi_register() {
    let ok = r#"{:process 0 :type :invoke :f :txn :value [[:write :x 1] [:write :y 1]]}
                {:process 0 :type :ok :f :txn :value [[:write :x 1] [:write :y 1]]}
                {:process 1 :type :invoke :f :txn :value [[:read :x nil] [:read :y nil]]}
                {:process 1 :type :ok :f :txn :value [[:read :x 1] [:read :y 1]]}"#;
    assert_eq!(
        verdict(ModelKind::MultiRegister, Some("{:x 0 :y 0}"), ok),
        Verdict::Valid
    );
    // a torn read: half of an atomic transaction
    let torn = r#"{:process 0 :type :invoke :f :txn :value [[:write :x 1] [:write :y 1]]}
                  {:process 0 :type :ok :f :txn :value [[:write :x 1] [:write :y 1]]}
                  {:process 1 :type :invoke :f :txn :value [[:read :x nil] [:read :y nil]]}
                  {:process 1 :type :ok :f :txn :value [[:read :x 1] [:read :y 0]]}"#;
    assert_eq!(
        verdict(ModelKind::MultiRegister, Some("{:x 0 :y 0}"), torn),
        Verdict::Invalid
    );
}

#[test]
fn mutex() {
    let ok = r#"{:process 0 :type :invoke :f :acquire :value nil}
                {:process 0 :type :ok :f :acquire :value nil}
                {:process 1 :type :invoke :f :acquire :value nil}
                {:process 0 :type :invoke :f :release :value nil}
                {:process 0 :type :ok :f :release :value nil}
                {:process 1 :type :ok :f :acquire :value nil}"#;
    assert_eq!(verdict(ModelKind::Mutex, None, ok), Verdict::Valid);
    let double = r#"{:process 0 :type :invoke :f :acquire :value nil}
                    {:process 0 :type :ok :f :acquire :value nil}
                    {:process 1 :type :invoke :f :acquire :value nil}
                    {:process 1 :type :ok :f :acquire :value nil}"#;
    assert_eq!(verdict(ModelKind::Mutex, None, double), Verdict::Invalid);
}

#[test]
fn set() {
    let ok = r#"{:process 0 :type :invoke :f :add :value 1}
                {:process 1 :type :invoke :f :read :value nil}
                {:process 1 :type :ok :f :read :value [1]}
                {:process 0 :type :ok :f :add :value 1}
                {:process 0 :type :invoke :f :add :value 2}
                {:process 0 :type :ok :f :add :value 2}
                {:process 1 :type :invoke :f :read :value nil}
                {:process 1 :type :ok :f :read :value [2 1]}"#;
    assert_eq!(verdict(ModelKind::Set, None, ok), Verdict::Valid);
    let lost = r#"{:process 0 :type :invoke :f :add :value 1}
                  {:process 0 :type :ok :f :add :value 1}
                  {:process 1 :type :invoke :f :read :value nil}
                  {:process 1 :type :ok :f :read :value []}"#;
    assert_eq!(verdict(ModelKind::Set, None, lost), Verdict::Invalid);
}

#[test]
fn keys_are_checked_independently() {
    // key a is fine, key b reads a value never written to b (but written to a)
    let h = r#"{:process 0 :type :invoke :f :write :key "a" :value 1}
               {:process 0 :type :ok :f :write :key "a" :value 1}
               {:process 1 :type :invoke :f :read :key "b" :value nil}
               {:process 1 :type :ok :f :read :key "b" :value 1}"#;
    let history = read_history(h.as_bytes(), Format::Edn).expect("parse");
    let report = check(&history, &Options::new(ModelKind::Register)).expect("check");
    let by_key: Vec<(Option<String>, Verdict)> = report.keys.iter().map(|k| (k.key.clone(), k.verdict)).collect();
    assert_eq!(
        by_key,
        vec![(Some("a".into()), Verdict::Valid), (Some("b".into()), Verdict::Invalid)]
    );
    assert_eq!(report.verdict, Verdict::Invalid);
}
