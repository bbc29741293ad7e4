//! CloudFormation logical ids derived from registry keys.
//!
//! Rule: split the key at every character that is not an ASCII letter or digit, capitalise the
//! first letter of each part, and join: `divide_by` is `DivideBy`, `times_3` is `Times3`,
//! `send-report` is `SendReport`. A task's Lambda function is `<Id>Function`, its ARN in the
//! state machine's `DefinitionSubstitutions` is `<Id>FunctionArn`.

/// The logical id for a registry key (letters and digits only).
///
/// ```
/// use orkestra::export::naming::logical_id;
/// assert_eq!(logical_id("divide_by"), "DivideBy");
/// assert_eq!(logical_id("times_3"), "Times3");
/// assert_eq!(logical_id("send-report"), "SendReport");
/// ```
pub fn logical_id(key: &str) -> String {
    key.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase());
            first.into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

/// The logical id of a task's Lambda function.
pub fn function_id(key: &str) -> String {
    format!("{}Function", logical_id(key))
}

/// The logical id of a task's function's IAM role.
pub fn function_role_id(key: &str) -> String {
    format!("{}Role", function_id(key))
}

/// The `DefinitionSubstitutions` key holding a task's function ARN.
pub fn function_arn_substitution(key: &str) -> String {
    format!("{}Arn", function_id(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_letters_and_digits() {
        for key in ["a__b", "_x_", "sum-up_2", "ones_and_zeros"] {
            let id = logical_id(key);
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        }
        assert_eq!(logical_id("ones_and_zeros"), "OnesAndZeros");
        assert_eq!(function_arn_substitution("sum_up"), "SumUpFunctionArn");
    }
}
