//! The scheduler queue's store contract (`tests/support/scheduler_suite.rs`) on DynamoDB,
//! against the local moto server (`ORKESTRA_TEST_AWS_ENDPOINT`, started by
//! `.ci/setup.d/60-aws.sh`): the same checks the SQLite queue passes.

#[path = "support/aws_local.rs"]
mod aws_local;
#[path = "support/scheduler_suite.rs"]
mod scheduler_suite;

use std::sync::Arc;

use orkestra::aws::AwsConfig;
use orkestra::scheduler::dynamo::{create_tables, DynamoQueue};
use orkestra::scheduler::store::QueueStore;

/// Fresh tables, and two queues (two clients) on them.
fn dynamo_pair() -> Option<(Arc<dyn QueueStore>, Arc<dyn QueueStore>)> {
    let endpoint = aws_local::endpoint()?;
    let prefix = aws_local::unique("sched").replace('-', "_");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = rt.block_on(async {
        let config = AwsConfig::local(&endpoint).await;
        create_tables(&config, &prefix).await.unwrap();
        config
    });
    Some((
        Arc::new(DynamoQueue::new(&config, &prefix)),
        Arc::new(DynamoQueue::new(&config, &prefix)),
    ))
}

scheduler_suite::suite_tests!(dynamo_pair);
