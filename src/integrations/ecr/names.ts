/**
 * Amazon ECR's naming rules, checked before any value from a request or an event reaches an AWS call (issue 17 item
 * 7: an event's `account`, `region` and `repository-name` were passed on as sent, so any caller could make the
 * service sign requests for any account, any region string and any repository text).
 */

/** An AWS account ID, which is also an ECR registry ID: twelve digits. */
const ACCOUNT_ID = /^\d{12}$/;

/**
 * AWS region names: a partition prefix (`us`, `eu`, `ap`, …, `cn`, and the GovCloud / ISO variants), a direction and
 * a number — `eu-west-1`, `ap-southeast-5`, `us-gov-west-1`, `cn-northwest-1`, `us-isob-east-1`. A string such as
 * `zz-evil-9` is not a region and never becomes an SDK client.
 */
export const REGION = /^(?:af|ap|ca|cn|eu|il|me|mx|sa|us)(?:-gov|-iso[a-z]?)?-(?:central|north|south|east|west|northeast|northwest|southeast|southwest)-\d{1,2}$/;

/** ECR's repositoryName pattern (CreateRepository): lower-case path components separated by `/`, 2–256 characters. */
const REPOSITORY_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** An image tag: the OCI distribution rule for its characters, ECR's limit of 300 for its length. */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,299}$/;

export const isAccountId = (v: string): boolean => ACCOUNT_ID.test(v);
export const isAwsRegion = (v: string): boolean => REGION.test(v);
export const isEcrRepositoryName = (v: string): boolean => v.length >= 2 && v.length <= 256 && REPOSITORY_NAME.test(v);
export const isImageTag = (v: string): boolean => IMAGE_TAG.test(v);
