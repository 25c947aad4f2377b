package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/tollgate-dev/tollgate/resolver"
)

// exampleTagging stands in for the Tagging API in the example: two
// profiles of the insurance company, answered whatever the filters.
type exampleTagging struct{}

func (exampleTagging) GetResources(_ context.Context, in *resourcegroupstaggingapi.GetResourcesInput, _ ...func(*resourcegroupstaggingapi.Options)) (*resourcegroupstaggingapi.GetResourcesOutput, error) {
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	// The Resolver also checks the filters itself, so this fake can ignore
	// in.TagFilters.
	return &resourcegroupstaggingapi.GetResourcesOutput{ResourceTagMappingList: []types.ResourceTagMapping{
		{
			ResourceARN: aws.String("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abcd1234efgh"),
			Tags:        []types.Tag{tag("tenant", "acme"), tag("app", "claims_chatbot"), tag("dept", "claims")},
		},
		{
			ResourceARN: aws.String("arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/0123456789ab"),
			Tags:        []types.Tag{tag("tenant", "acme"), tag("app", "chat_app"), tag("dept", "sales")},
		},
	}}, nil
}

func ExampleResolver() {
	// In a real program the API is the SDK's client, pointed at AWS or at
	// Tollgate, with the SDK's retries left to the Resolver:
	//
	//	cfg, err := config.LoadDefaultConfig(ctx, config.WithRetryMaxAttempts(1))
	//	client := resourcegroupstaggingapi.NewFromConfig(cfg, func(o *resourcegroupstaggingapi.Options) {
	//		o.BaseEndpoint = aws.String("http://127.0.0.1:8080") // Tollgate; omit for AWS
	//	})
	var client resolver.API = exampleTagging{}

	r, err := resolver.New(resolver.Options{API: client, TTL: 5 * time.Minute})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	// Build queries once; resolving a cached one does not allocate.
	claims := resolver.MustQuery(map[string]string{"tenant": "acme", "app": "claims_chatbot"})
	ctx := context.Background()
	arn, err := r.Resolve(ctx, claims)
	fmt.Println(arn, err)

	res, _ := r.ResolveDetail(ctx, claims)
	fmt.Println("second lookup from:", res.Source)

	_, err = r.Resolve(ctx, resolver.MustQuery(map[string]string{"tenant": "acme", "app": "fraud"}))
	fmt.Println("no match:", errors.Is(err, resolver.ErrNoMatch))

	var amb *resolver.AmbiguousError
	_, err = r.Resolve(ctx, resolver.MustQuery(map[string]string{"tenant": "acme"}))
	fmt.Println("ambiguous:", errors.As(err, &amb), len(amb.ARNs))

	st := r.Stats()
	fmt.Println("hits:", st.Hits, "misses:", st.Misses)
	// Output:
	// arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abcd1234efgh <nil>
	// second lookup from: cache
	// no match: true
	// ambiguous: true 2
	// hits: 1 misses: 3
}
