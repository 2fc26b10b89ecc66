//! Info ops may take effect once each, at any time after their invocation, or never.
//! These histories need the exact counting pass: the greedy pass spends the wrong
//! info op, and the relaxed pass would reuse one.

use checkers::format::{Format, read_history};
use checkers::{ModelKind, Options, Value, Verdict, check};

const PENDING: &str = r#"{:process 10 :type :invoke :f :write :value 1}
{:process 10 :type :info :f :write :value 1}
{:process 11 :type :invoke :f :cas :value [0 1]}
{:process 11 :type :info :f :cas :value [0 1]}
"#;
const READ_1_THEN_WRITE_2: &str = r#"{:process 0 :type :invoke :f :read :value nil}
{:process 0 :type :ok :f :read :value 1}
{:process 0 :type :invoke :f :write :value 2}
{:process 0 :type :ok :f :write :value 2}
"#;
const READ_1: &str = r#"{:process 0 :type :invoke :f :read :value nil}
{:process 0 :type :ok :f :read :value 1}
"#;

fn verdict(edn: &str) -> Verdict {
    let history = read_history(edn.as_bytes(), Format::Edn).expect("parse");
    let mut opts = Options::new(ModelKind::CasRegister);
    opts.initial = Some(Value::Int(0));
    check(&history, &opts).expect("check").verdict
}

#[test]
fn each_info_op_explains_one_change_and_the_right_one_is_found() {
    // read 1 (cas 0->1), write 2, read 1 (write 1): valid only with the cas spent first
    let h = format!("{PENDING}{READ_1_THEN_WRITE_2}{READ_1}");
    assert_eq!(verdict(&h), Verdict::Valid);
}

#[test]
fn an_info_op_cannot_take_effect_twice() {
    // a third read of 1 after another write of 2 would need a third info op
    let h = format!("{PENDING}{READ_1_THEN_WRITE_2}{READ_1_THEN_WRITE_2}{READ_1}");
    assert_eq!(verdict(&h), Verdict::Invalid);
}

#[test]
fn an_info_op_cannot_take_effect_before_its_invocation() {
    let h = format!("{READ_1}{PENDING}");
    assert_eq!(verdict(&h), Verdict::Invalid);
}
